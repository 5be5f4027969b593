"""Which companies' daily digests are due, and claiming one: the store side of :mod:`bot.runtime.digest`.

A digest is due once the company's local clock has passed its ``digest_time`` today and no digest has covered that
moment yet. Claiming moves ``digest_sent_at`` forward with a compare-and-set UPDATE and writes the e-mail's outbox
row in the same transaction, so two workers (or a restart) never send the same day twice, and a claimed digest is
never lost: the outbox retries it until the SMTP server takes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.brain.call_summary import PRIORITIES
from bot.store.models import Call, Company, Message, Outbox, utcnow

MAX_CALLS = 300  # calls listed in one digest; the rest are counted
FIRST_PERIOD = timedelta(days=1)  # what the first digest of a company covers
LONGEST_PERIOD = timedelta(days=7)  # after a long outage, older calls are not dug out again


def scheduled_at(company: Company, now: datetime) -> datetime | None:
    """Today's digest moment in the company's time zone (as an aware datetime), or None without a digest time."""
    if not company.digest_time:
        return None
    hour, minute = (int(x) for x in company.digest_time.split(":"))
    local = now.astimezone(ZoneInfo(company.timezone))
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0)


def is_due(company: Company, now: datetime) -> bool:
    moment = scheduled_at(company, now)
    if moment is None or not company.email or now < moment:
        return False
    return company.digest_sent_at is None or company.digest_sent_at < moment


def _call_row(call: Call) -> dict[str, Any]:
    return {"id": call.id, "started_at": call.started_at.isoformat(), "caller_number": call.caller_number,
            "outcome": call.outcome, "priority": call.priority, "tags": list(call.tags or []),
            "summary": call.summary, "duration_s": call.duration_s}


def digest_payload(session: Session, company: Company, since: datetime, until: datetime) -> dict[str, Any]:
    """The digest e-mail's content: every call of the period, most pressing first, and the open callbacks."""
    where = (Call.company_id == company.id, Call.started_at >= since, Call.started_at < until)
    calls = list(session.scalars(select(Call).where(*where).order_by(Call.started_at)))
    rank = {p: i for i, p in enumerate(PRIORITIES)}
    calls.sort(key=lambda c: (rank.get(c.priority or "", len(rank)), c.started_at))
    open_callbacks = session.scalar(select(func.count(Message.id)).where(
        Message.company_id == company.id, Message.status == "new")) or 0
    return {"event": "digest", "to": company.email, "company": {"slug": company.slug, "name": company.name},
            "language": company.default_language, "timezone": company.timezone, "since": since.isoformat(),
            "until": until.isoformat(), "call_count": len(calls), "open_callbacks": open_callbacks,
            "calls": [_call_row(c) for c in calls[:MAX_CALLS]]}


def claim_due_digests(session: Session, now: datetime | None = None) -> list[Outbox]:
    """Claim every due digest: one outbox e-mail row per company, committed. Returns the rows written."""
    now = now or utcnow()
    written = []
    companies = list(session.scalars(select(Company).where(Company.digest_time.is_not(None),
                                                           Company.email.is_not(None))))
    for company in companies:
        if not is_due(company, now):
            continue
        previous = company.digest_sent_at
        since = max(previous or now - FIRST_PERIOD, now - LONGEST_PERIOD)
        claimed = session.execute(
            update(Company).where(Company.id == company.id,
                                  Company.digest_sent_at.is_(None) if previous is None
                                  else Company.digest_sent_at == previous)
            .values(digest_sent_at=now).execution_options(synchronize_session=False)).rowcount
        if claimed != 1:  # another worker took it
            session.rollback()
            continue
        row = Outbox(kind="email", company_id=company.id, message_id=None,
                     payload=digest_payload(session, company, since, now), next_attempt_at=now)
        session.add(row)
        session.commit()
        written.append(row)
    return written
