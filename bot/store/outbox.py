"""The notification outbox: claim due rows, then mark each sent or failed (retried later with backoff).

The senders themselves (SMTP, HMAC-signed webhook) live in the web app; this module only guarantees that every
notification is attempted until it succeeds, by several workers at once without double delivery in the normal case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.companies import NotFound
from bot.store.models import Outbox, utcnow

BASE_BACKOFF_S = 30.0
MAX_BACKOFF_S = 3600.0  # retried at least hourly, forever: a receiver that is down must not lose a message
LEASE_S = 120.0  # a claimed row is not handed to another worker for this long


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 30 s, 1 min, 2 min, … capped at one hour."""
    return timedelta(seconds=min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** max(0, attempts - 1)))


def claim_due(session: Session, now: datetime | None = None, limit: int = 20, kind: str | None = None,
              lease_s: float = LEASE_S) -> list[Outbox]:
    """Pending rows whose time has come, leased to the caller (committed) so that no other worker takes them."""
    now = now or utcnow()
    stmt = (select(Outbox).where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
            .order_by(Outbox.next_attempt_at, Outbox.id).limit(limit).with_for_update(skip_locked=True))
    if kind is not None:
        stmt = stmt.where(Outbox.kind == kind)
    items = list(session.scalars(stmt))
    for item in items:
        item.next_attempt_at = now + timedelta(seconds=lease_s)
    session.commit()
    return items


def _item(session: Session, item_id: int) -> Outbox:
    item = session.get(Outbox, item_id)
    if item is None:
        raise NotFound(f"no outbox row {item_id} (its message may have been deleted)")
    return item


def mark_sent(session: Session, item_id: int, now: datetime | None = None) -> Outbox:
    item = _item(session, item_id)
    item.status, item.sent_at, item.last_error = "sent", now or utcnow(), None
    item.attempts += 1
    session.commit()
    return item


def mark_failed(session: Session, item_id: int, error: str, now: datetime | None = None) -> Outbox:
    """Record a failed delivery; the row stays pending and is due again after :func:`backoff`."""
    item = _item(session, item_id)
    item.attempts += 1
    item.last_error = error[:2000]
    item.next_attempt_at = (now or utcnow()) + backoff(item.attempts)
    session.commit()
    return item


def pending(session: Session, company_id: int | None = None) -> list[Outbox]:
    stmt = select(Outbox).where(Outbox.status == "pending").order_by(Outbox.id)
    if company_id is not None:
        stmt = stmt.where(Outbox.company_id == company_id)
    return list(session.scalars(stmt))
