"""The daily digest e-mail: every call of the day with its summary and priority, at the company's chosen time.

:func:`digest_loop` runs in the web app beside the outbox worker. Once a minute it claims the due digests
(:func:`bot.store.digests.claim_due_digests`), which become ordinary outbox e-mails: retried until the SMTP server
takes them, never sent twice. :func:`digest_email` renders one (texts in ``prompts/<lang>/notifications.yaml``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

import prompts
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.digests import claim_due_digests

log = logging.getLogger(__name__)
DIGEST_INTERVAL_S = 60.0


def digest_email(settings: Settings, payload: dict[str, Any]) -> EmailMessage:
    """The digest as a plain-text e-mail in the company's language, times in the company's time zone."""
    language = payload.get("language") if payload.get("language") in prompts.LANGUAGES else "de"
    p = prompts.load(language, "notifications")
    zone = ZoneInfo(payload.get("timezone") or "Europe/Berlin")
    company = payload.get("company", {}).get("name", "")

    def local(iso: str, fmt: str) -> str:
        return datetime.fromisoformat(iso).astimezone(zone).strftime(fmt)

    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = payload["to"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or "localhost")
    msg["Subject"] = p["digest_subject"].format(company=company, calls=payload.get("call_count", 0),
                                                open=payload.get("open_callbacks", 0))
    lines = [p["digest_intro"].format(company=company, since=local(payload["since"], "%d.%m.%Y %H:%M"),
                                      until=local(payload["until"], "%d.%m.%Y %H:%M"), timezone=zone.key), ""]
    calls = payload.get("calls", [])
    for call in calls:
        lines.append(p["digest_line"].format(
            time=local(call["started_at"], "%d.%m. %H:%M"),
            caller=call.get("caller_number") or p["digest_withheld"],
            priority=p["priority"][call.get("priority") or "none"],
            summary=call.get("summary") or p["digest_no_summary"]))
    if not calls:
        lines.append(p["digest_none"])
    if payload.get("call_count", 0) > len(calls):
        lines.append(p["digest_more"].format(n=payload["call_count"] - len(calls)))
    if settings.public_url:
        lines += ["", p["digest_link"].format(url=f"{settings.public_url.rstrip('/')}/calls")]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def enqueue_due(settings: Settings, now: datetime | None = None) -> int:
    """Claim the digests due now as outbox e-mails; returns how many."""
    with session_scope(settings) as session:
        return len(claim_due_digests(session, now))


async def digest_loop(settings: Settings, stop: asyncio.Event, interval_s: float = DIGEST_INTERVAL_S) -> None:
    """Check for due digests every ``interval_s`` until ``stop`` (started by the app's lifespan)."""
    while not stop.is_set():
        try:
            count = await asyncio.to_thread(enqueue_due, settings)
            if count:
                log.info("%d daily digest(s) queued", count)
        except Exception:
            log.exception("digest check failed; next try in %d s", int(interval_s))
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except asyncio.TimeoutError:
            pass
