"""DSGVO: erase everything about one caller (Art. 17), and the retention job (Art. 5(1)(e) storage limitation).

Recording files are deleted before the rows that point to them are committed away: if the commit then failed,
a row would point to a missing file (harmless), never a forgotten file to a missing row. Messages still in the
local spool (:mod:`bot.store.spool`, not yet in the database) are erased first, waiting for a move in progress, so
that none can arrive in the database after its caller was forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.store import spool, validate
from bot.store.models import Call, CallTurn, Company, FaqGap, Message, Outbox, utcnow

log = logging.getLogger(__name__)
NO_TRANSCRIPT_MESSAGE_DAYS = 30  # retention 0: how long messages and FAQ gaps stay (the product's default period)


@dataclass
class DeletionReport:
    """What was erased; numbers only, so the report itself can be logged."""

    calls: int = 0
    turns: int = 0
    messages: int = 0
    notifications: int = 0
    faq_gaps: int = 0
    recordings: int = 0
    spooled: int = 0  # of ``messages``: those erased from the local spool before they reached the database
    errors: list[str] = field(default_factory=list)


def _same_number(raw: str | None, e164: str) -> bool:
    return bool(raw) and (validate.phone_number_or_none(raw) or raw.strip()) == e164


def delete_recordings(paths: Iterable[str | None], report: DeletionReport) -> None:
    for path in paths:
        if not path:
            continue
        try:
            Path(path).unlink(missing_ok=True)
            report.recordings += 1
        except OSError as exc:
            report.errors.append(f"recording of a call could not be deleted: {exc.strerror}")
            log.error("recording could not be deleted: %s", exc.strerror)


def forget_call_content(session: Session, call: Call, *, recording: bool) -> DeletionReport:
    """Delete one finished call's transcript and the FAQ gaps quoted from it (and, with ``recording``, its audio):
    the call's record keeps outcome, duration, summary, priority and tags; its message stays with the secretary.

    Runs when a call closes for a company that keeps no transcript (``retention_days`` 0) or whose caller objected
    to the recording; no commit here (the caller's transaction closes the call in the same commit)."""
    report = DeletionReport()
    if recording and call.recording_path:
        delete_recordings([call.recording_path], report)
        call.recording_path = None
    report.turns = session.execute(delete(CallTurn).where(CallTurn.call_id == call.id)).rowcount
    report.faq_gaps = session.execute(delete(FaqGap).where(FaqGap.call_id == call.id)).rowcount
    session.expire(call, ["turns"])
    return report


def delete_caller_data(session: Session, number: str, spool_directory: Path | None = None) -> DeletionReport:
    """Erase every call from ``number`` (transcript, recording, FAQ gaps) and every message with it as caller or
    callback number, with their pending notifications, also in ``spool_directory`` (the deployment's
    :func:`bot.store.spool.spool_dir`). Any written form of the number is accepted."""
    e164 = validate.phone_number(number)
    report = DeletionReport()
    if spool_directory is not None:
        report.spooled = spool.remove_where(spool_directory, lambda e: _same_number(e.message.number, e164)
                                            or _same_number(e.caller_number, e164))
        spool.remove_stale_temps(spool_directory)
    calls = list(session.execute(select(Call.id, Call.recording_path).where(Call.caller_number == e164)))
    call_ids = [c.id for c in calls]
    message_filter = Message.caller_number == e164
    if call_ids:
        message_filter = or_(message_filter, Message.call_id.in_(call_ids))
    message_ids = list(session.scalars(select(Message.id).where(message_filter)))
    delete_recordings((c.recording_path for c in calls), report)
    if message_ids:
        report.notifications = session.execute(delete(Outbox).where(Outbox.message_id.in_(message_ids))).rowcount
        report.messages = session.execute(delete(Message).where(Message.id.in_(message_ids))).rowcount
    report.messages += report.spooled
    if call_ids:
        report.faq_gaps = session.execute(delete(FaqGap).where(FaqGap.call_id.in_(call_ids))).rowcount
        report.turns = session.execute(delete(CallTurn).where(CallTurn.call_id.in_(call_ids))).rowcount
        report.calls = session.execute(delete(Call).where(Call.id.in_(call_ids))).rowcount
    session.commit()
    session.expire_all()
    log.info("caller data erased: %d calls, %d messages (%d spooled), %d recordings", report.calls,
             report.messages, report.spooled, report.recordings)
    return report


@dataclass
class PurgeReport:
    """What the retention job removed: transcripts and recordings of old calls (whose outcome, duration and
    language stay for statistics, anonymised), old messages with their notifications, old FAQ gaps."""

    calls_anonymised: int = 0
    turns: int = 0
    messages: int = 0
    notifications: int = 0
    faq_gaps: int = 0
    recordings: int = 0
    errors: list[str] = field(default_factory=list)


def purge_expired(session: Session, now: datetime | None = None, spool_directory: Path | None = None) -> PurgeReport:
    """Apply each company's ``retention_days``: everything personal older than that is deleted (spooled messages
    in ``spool_directory`` too, should the database have been out of reach for that long)."""
    now = now or utcnow()
    report = PurgeReport()
    counter = DeletionReport()
    cutoffs: dict[str, datetime] = {}
    for company in session.scalars(select(Company)):
        # 0 keeps no transcript: calls are anonymised at the next run once they have ended (a call in progress
        # keeps its row until it closes, or a day), while messages and FAQ gaps keep the default period, so that
        # the secretary still gets them (the transcript itself went when the call closed: bot.store.calls)
        days = company.retention_days
        call_cutoff = now - timedelta(days=days)
        cutoff = cutoffs[company.slug] = now - timedelta(days=days or NO_TRANSCRIPT_MESSAGE_DAYS)
        old_calls = list(session.execute(select(Call.id, Call.recording_path).where(
            Call.company_id == company.id, Call.started_at < call_cutoff, Call.purged_at.is_(None),
            or_(Call.ended_at.is_not(None), Call.started_at < now - timedelta(days=1)))))
        call_ids = [c.id for c in old_calls]
        delete_recordings((c.recording_path for c in old_calls), counter)
        if call_ids:
            report.turns += session.execute(delete(CallTurn).where(CallTurn.call_id.in_(call_ids))).rowcount
            report.calls_anonymised += session.execute(
                update(Call).where(Call.id.in_(call_ids)).values(
                    caller_number=None, call_sid=None, summary=None, recording_path=None, purged_at=now)).rowcount
        old_messages = select(Message.id).where(Message.company_id == company.id, Message.created_at < cutoff)
        report.notifications += session.execute(delete(Outbox).where(Outbox.message_id.in_(old_messages))).rowcount
        report.messages += session.execute(delete(Message).where(
            Message.company_id == company.id, Message.created_at < cutoff)).rowcount
        report.faq_gaps += session.execute(delete(FaqGap).where(
            FaqGap.company_id == company.id, FaqGap.created_at < cutoff)).rowcount
    session.commit()
    session.expire_all()
    if spool_directory is not None:
        report.messages += spool.remove_where(
            spool_directory, lambda e: e.company in cutoffs and e.created_at < cutoffs[e.company])
    report.recordings, report.errors = counter.recordings, counter.errors
    log.info("retention purge: %d calls anonymised, %d messages, %d FAQ gaps, %d recordings deleted",
             report.calls_anonymised, report.messages, report.faq_gaps, report.recordings)
    return report
