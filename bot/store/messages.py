"""Hand-off messages and their notifications.

:func:`save_message` is the one place a caller's message enters the system. It writes the message and its outbox
rows (e-mail, webhook) in ONE transaction and returns only after the commit, so the bot may say "your message is
saved" exactly when it is, and no notification can be lost between the two. Calls do not wait for it: they spool
the message locally first (:mod:`bot.store.spool`), and the spool's mover calls it with the file's ``spool_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.brain.types import CallMessage
from bot.store import validate
from bot.store.companies import NotFound, resolve
from bot.store.models import Call, Company, Message, Outbox, User, utcnow
from bot.store.spool import check_message
from bot.store.summaries import summarise_message

log = logging.getLogger(__name__)


def message_payload(message: Message, company: Company, call: Call | None = None) -> dict[str, Any]:
    """What a notification carries: the message, the call's summary so far and its priority, and enough about the
    company to address and brand it."""
    summary = summarise_message(message, call)
    return {
        "event": "message.created",
        "message_id": message.id,
        "call_id": message.call_id,
        "company": {"slug": company.slug, "name": company.name},
        "caller_name": message.caller_name,
        "caller_number": message.caller_number,
        "concern": message.concern,
        "urgency": message.urgency,
        "language": message.language,
        "partial": not message.complete,  # the caller hung up mid-message: name or number may be all there is
        "created_at": message.created_at.isoformat(),
        "summary": summary.text,
        "priority": summary.priority,
        "called_back_at": message.called_back_at.isoformat() if message.called_back_at else None,
        "called_back_by": message.called_back_by,
    }


def save_message(session: Session, company_slug: Company | str, message: CallMessage, call_id: int | None = None,
                 *, now: datetime | None = None, spool_id: str | None = None) -> Message:
    """Store a caller's message with its e-mail/webhook outbox rows and COMMIT; returns the committed row.

    Raises (and stores nothing) only for a programming error (unknown company, urgency or language) or when the
    database fails; an unknown ``call_id`` is logged and the message saved without the link. On an exception
    the carrier reports the failed action instead of claiming a save. A second message with the same ``spool_id``
    raises IntegrityError (the unique index): a spooled message is stored once.
    """
    check_message(message)
    company = resolve(session, company_slug)
    call = session.get(Call, call_id) if call_id is not None else None
    if call_id is not None and call is None:
        log.warning("save_message: call %s does not exist; saving the message without a call link", call_id)
        call_id = None
    # The brain validated the number already; should it still not parse, keep what was heard rather than lose it.
    # A premium-rate or service number is refused (InvalidInput, nothing stored): nobody may be asked to dial it.
    e164 = validate.phone_number_or_none(message.number)
    number = validate.callback_number(e164) if e164 else message.number.strip()[:20]
    row = Message(company_id=company.id, call_id=call_id, caller_name=(message.name or "").strip()[:200],
                  caller_number=number, concern=message.concern or "", urgency=message.urgency,
                  language=message.language, status="new", created_at=now or utcnow(), spool_id=spool_id,
                  complete=message.complete)
    session.add(row)
    session.flush()  # assigns row.id for the payload
    payload = message_payload(row, company, call)
    if company.email:
        session.add(Outbox(kind="email", company_id=company.id, message_id=row.id,
                           payload={**payload, "to": company.email}, next_attempt_at=row.created_at))
    if company.webhook_url:
        session.add(Outbox(kind="webhook", company_id=company.id, message_id=row.id,
                           payload={**payload, "url": company.webhook_url}, next_attempt_at=row.created_at))
    if call is not None and call.outcome is None:
        call.outcome = "message"  # so the record is right even if the call process dies before finish_call
    session.commit()
    return row


def get_message(session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def list_messages(session: Session, *, company: Company | str | None = None,
                  company_ids: Iterable[int] | None = None, status: str | None = None,
                  open_callbacks: bool = False, after_id: int | None = None, limit: int = 100) -> list[Message]:
    """Messages newest first; with ``after_id`` only those newer than it, oldest first (for a live inbox feed).

    ``open_callbacks``: only the callback list, open messages with a number to call that nobody has called back yet.
    """
    stmt = select(Message)
    if open_callbacks:
        stmt = stmt.where(Message.status == "new", Message.called_back_at.is_(None), Message.caller_number != "")
    if company is not None:
        stmt = stmt.where(Message.company_id == resolve(session, company).id)
    if company_ids is not None:
        stmt = stmt.where(Message.company_id.in_(list(company_ids)))
    if status is not None:
        stmt = stmt.where(Message.status == status)
    if after_id is not None:
        stmt = stmt.where(Message.id > after_id).order_by(Message.id.asc())
    else:
        stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def mark_message_done(session: Session, message_id: int, user_id: int | None = None,
                      now: datetime | None = None, done: bool = True) -> Message:
    """Mark a message handled by ``user_id`` (or, with ``done=False``, open again)."""
    row = session.get(Message, message_id)
    if row is None:
        raise NotFound(f"no message with id {message_id}")
    row.status, row.done_at, row.done_by = ("done", now or utcnow(), user_id) if done else ("new", None, None)
    session.commit()
    return row


def mark_called_back(session: Session, message_id: int, user: User | None = None, now: datetime | None = None,
                     called_back: bool = True) -> Message:
    """Record that ``user`` called the caller back (or, with ``called_back=False``, take it back) and COMMIT.

    Calling back settles a message, so an open one is marked done by the same user at the same time; taking the
    callback back opens it again. A first mark queues a ``message.called_back`` webhook (when the company has one),
    in the same transaction; marking twice keeps the first time and sends nothing more.
    """
    row = session.get(Message, message_id)
    if row is None:
        raise NotFound(f"no message with id {message_id}")
    if not called_back:
        if row.called_back_at is not None:
            row.called_back_at = row.called_back_by = None
            row.status, row.done_at, row.done_by = "new", None, None
        session.commit()
        return row
    if row.called_back_at is None:
        at = now or utcnow()
        row.called_back_at = at
        row.called_back_by = ((user.name or user.email) if user is not None else "")[:320] or None
        if row.status != "done":
            row.status, row.done_at, row.done_by = "done", at, user.id if user is not None else None
        company = session.get(Company, row.company_id)
        if company is not None and company.webhook_url:
            payload = {**message_payload(row, company), "event": "message.called_back", "url": company.webhook_url}
            session.add(Outbox(kind="webhook", company_id=company.id, message_id=row.id, payload=payload,
                               next_attempt_at=at))
    session.commit()
    return row
