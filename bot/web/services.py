"""Operations shared by the REST API and the UI: company changes, row-to-dict views, call statistics.

Keeping them here means a form and its API twin cannot drift apart in what they validate or show.
"""

from __future__ import annotations

import secrets
import statistics
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import documents, webhook_targets
from bot.runtime import knowledge as kb
from bot.settings import Settings
from bot.store import repo
from bot.store.companies import resolve
from bot.store.models import ApiKey, Call, Company, Message, User, utcnow
from bot.store.validate import InvalidInput, phone_number

SECRET_PREFIX = "whsec_"


def save_company(db: Session, fields: dict[str, Any], *, settings: Settings, slug: str | None = None,
                 company: Company | None = None) -> Company:
    """Create (``slug``) or update (``company``) with the given fields; ``phone_numbers`` replaces the set.

    A webhook URL without a secret gets a generated one, so every webhook is signed; one that points into the
    server's own network is refused (unless ``settings`` allow private targets). Raises InvalidInput.
    """
    fields = {k: v for k, v in fields.items()}
    try:
        webhook_targets.check_saved_url((fields.get("webhook_url") or "").strip() or None,
                                        settings.webhook_allow_private)
    except webhook_targets.TargetRefused as exc:
        raise InvalidInput(str(exc)) from None
    phones = fields.pop("phone_numbers", None)
    if fields.get("webhook_url") and not fields.get("webhook_secret") and not (company and company.webhook_secret):
        fields["webhook_secret"] = SECRET_PREFIX + secrets.token_urlsafe(24)
    if company is None:
        return repo.create_company(db, slug or "", fields.pop("name", None), phones=phones or [], **fields)
    add, remove = [], []
    if phones is not None:

        wanted = [phone_number(p) for p in phones if p and p.strip()]
        add = [p for p in wanted if p not in company.phone_numbers]
        remove = [p for p in company.phone_numbers if p not in wanted]
    return repo.update_company(db, company, add_phones=add, remove_phones=remove, **fields)


def delete_company(db: Session, settings: Settings, company: Company) -> None:
    slug = company.slug
    db.delete(company)
    db.commit()
    documents.delete_company(settings, slug)


def median_latency(call: Call) -> dict[str, float]:
    per_key: dict[str, list[float]] = {}
    for turn in call.turns:
        for key, value in (turn.latency or {}).items():
            per_key.setdefault(key, []).append(value)
    return {key: round(statistics.median(values), 1) for key, values in per_key.items()}


def call_dict(call: Call, detail: bool = False) -> dict[str, Any]:
    data = {"id": call.id, "company": call.company.slug, "company_name": call.company.name, "channel": call.channel,
            "caller_number": call.caller_number, "language": call.language, "started_at": call.started_at,
            "ended_at": call.ended_at, "duration_s": call.duration_s, "outcome": call.outcome,
            "transferred_to": call.transferred_to, "summary": call.summary,
            "priority": call.priority, "tags": list(call.tags or []),
            "has_recording": bool(call.recording_path), "message_ids": [m.id for m in call.messages]}
    if detail:
        data["turns"] = [{"seq": t.seq, "speaker": t.speaker, "text": t.text, "language": t.language,
                          "intent": t.intent, "entry_question": t.entry_question, "offset_ms": t.offset_ms,
                          "latency": t.latency or {}} for t in call.turns]
        data["latency_ms"] = median_latency(call)
    return data


def message_dict(message: Message) -> dict[str, Any]:
    return {"id": message.id, "company": message.company.slug, "company_name": message.company.name,
            "call_id": message.call_id, "caller_name": message.caller_name, "caller_number": message.caller_number,
            "concern": message.concern, "urgency": message.urgency, "language": message.language,
            "partial": not message.complete, "status": message.status, "created_at": message.created_at,
            "done_at": message.done_at, "called_back_at": message.called_back_at,
            "called_back_by": message.called_back_by,
            "summary": message.call.summary if message.call else None,
            "priority": message.call.priority if message.call else None}


def user_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "active": user.active,
            "companies": [c.slug for c in user.companies]}


def update_user(db: Session, user: User, *, name: str | None = None, role: str | None = None,
                active: bool | None = None, password: str | None = None, companies: list[str] | None = None) -> User:
    if name is not None:
        user.name = name.strip() or None
    if role is not None:
        user.role = role
    if active is not None:
        if user.active and not active:
            repo.revoke_sessions(db, user, commit=False)  # a reactivated account must log in afresh
        user.active = active
    if companies is not None:

        user.companies = [resolve(db, slug) for slug in companies]
    if password:
        repo.set_password(db, user, password, commit=False)
    db.commit()
    return user


def api_keys(db: Session, user: User) -> list[ApiKey]:
    return list(db.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)))


def own_api_key(db: Session, user: User, key_id: int) -> ApiKey | None:
    row = db.get(ApiKey, key_id)
    return row if row is not None and row.user_id == user.id else None


def stats(db: Session, company_ids: list[int] | None) -> dict[str, int]:
    """Dashboard figures: open messages, calls today and this week."""
    from datetime import timedelta


    now = utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    open_msgs = len(repo.list_messages(db, company_ids=company_ids, status="new", limit=10000))
    return {"open_messages": open_msgs,
            "calls_today": repo.count_calls(db, company_ids=company_ids, since=day),
            "calls_week": repo.count_calls(db, company_ids=company_ids, since=day - timedelta(days=6)),
            "messages_week": repo.count_calls(db, company_ids=company_ids, since=day - timedelta(days=6),
                                              outcome="message")}


__all__ = ["save_company", "delete_company", "call_dict", "message_dict", "user_dict", "update_user", "api_keys",
           "own_api_key", "stats", "median_latency"]


def label_gaps(db: Session, settings: Settings, company: Company, gap_ids: list[int],
               entry_question: str | None) -> dict[str, int]:
    """Close the loop on the FAQ-gap page: the company's open gaps among ``gap_ids`` are filed under the entry
    ``entry_question`` (``None``: not an FAQ topic, the hand-off was right) in the knowledge base, then resolved.

    Gaps of other companies and already resolved ones are ignored. Raises :class:`bot.runtime.knowledge.LearnRefused` (plain
    words) before anything is resolved when the knowledge base refuses the label, so no caller question is lost.
    """

    gaps = repo.open_faq_gaps(db, company, gap_ids)
    if not gaps:
        return {"learned": 0, "resolved": 0}
    counts = kb.learn(settings, company.slug, [(g.question, g.language) for g in gaps], entry_question)
    resolved = repo.resolve_faq_gaps(db, [g.id for g in gaps])
    return {"learned": counts["added"] + counts["relabelled"] + counts["unchanged"], "resolved": resolved}
