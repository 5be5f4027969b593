"""Call records: start, transcript turns with per-stage latency, finish with an outcome; FAQ gaps; listing.

Each write commits by default, so that a call's record up to the last turn survives a crash of the call process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.store import validate
from bot.store.companies import NotFound, resolve
from bot.store.models import CHANNELS, OUTCOMES, SPEAKERS, Call, CallTurn, Company, FaqGap, Message, utcnow
from bot.store.privacy import DeletionReport, delete_recordings, forget_call_content
from bot.store.summaries import apply_summary


def _call(session: Session, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call with id {call_id}")
    return call


def _latency(values: Mapping[str, float] | None) -> dict[str, float]:
    clean: dict[str, float] = {}
    for key, value in (values or {}).items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"latency {key!r} must be a non-negative number of milliseconds, got {value!r}")
        clean[str(key)] = round(float(value), 1)
    return clean


def start_call(session: Session, company: Company | str, *, channel: str, call_sid: str | None = None,
               caller_number: str | None = None, language: str | None = None, started_at: datetime | None = None,
               commit: bool = True) -> Call:
    """Open a call record. ``caller_number`` is kept as E.164 when it is a valid number, else dropped (withheld)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    row = resolve(session, company)
    call = Call(company_id=row.id, channel=channel, call_sid=call_sid,
                caller_number=validate.phone_number_or_none(caller_number),
                language=validate.language(language) if language else None, started_at=started_at or utcnow())
    session.add(call)
    if commit:
        session.commit()
    else:
        session.flush()
    return call


def add_turn(session: Session, call_id: int, speaker: str, text: str, *, language: str | None = None,
             intent: str | None = None, entry_id: str | None = None, entry_question: str | None = None,
             offset_ms: int | None = None, at: datetime | None = None, latency: Mapping[str, float] | None = None,
             commit: bool = True) -> CallTurn:
    """Append one utterance to the call's transcript.

    ``offset_ms`` is where the utterance started, counted from the call's start; without it, it is computed from
    ``at`` (default: now). ``latency`` holds milliseconds per stage: stt_ms, brain_ms, tts_ms, voice_to_voice_ms.
    """
    if speaker not in SPEAKERS:
        raise ValueError(f"unknown speaker {speaker!r}; use one of {', '.join(SPEAKERS)}")
    call = _call(session, call_id)
    seq = session.scalar(select(func.coalesce(func.max(CallTurn.seq), -1)).where(CallTurn.call_id == call_id)) + 1
    if offset_ms is None:
        offset_ms = max(0, round(((at or utcnow()) - call.started_at).total_seconds() * 1000))
    turn = CallTurn(call_id=call_id, seq=seq, speaker=speaker, text=text or "", language=language, intent=intent,
                    entry_id=entry_id, entry_question=entry_question, offset_ms=int(offset_ms),
                    latency=_latency(latency))
    session.add(turn)
    if language and call.language is None:
        call.language = language
    if commit:
        session.commit()
    else:
        session.flush()
    return turn


def update_turn_latency(session: Session, turn_id: int, commit: bool = True, **latency_ms: float) -> CallTurn:
    """Add stage timings known only later (e.g. ``tts_ms`` once the bot's audio started) to a stored turn."""
    turn = session.get(CallTurn, turn_id)
    if turn is None:
        raise NotFound(f"no call turn with id {turn_id}")
    turn.latency = {**(turn.latency or {}), **_latency(latency_ms)}
    if commit:
        session.commit()
    return turn


def finish_call(session: Session, call_id: int, outcome: str, *, transferred_to: str | None = None,
                summary: str | None = None, ended_at: datetime | None = None, commit: bool = True) -> Call:
    """Close a call with its outcome and write its summary, priority and tags (:mod:`bot.store.summaries`).

    A call that left a message stays ``message`` even when the carrier reports ``answered`` or ``abandoned`` (the
    caller hung up after the message was saved); a call handed to the secretary stays ``transferred`` the same way
    (the caller's pipeline may close after the hand-over was recorded). A ``summary`` given by the carrier replaces
    the generated wording.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
    call = _call(session, call_id)
    has_message = session.scalar(select(func.count(Message.id)).where(Message.call_id == call_id)) > 0
    if has_message and outcome in ("answered", "abandoned"):
        outcome = "message"
    elif call.outcome == "transferred" and outcome in ("answered", "abandoned"):
        outcome = "transferred"
    call.outcome = outcome
    call.ended_at = ended_at or utcnow()
    if transferred_to:
        call.transferred_to = validate.phone_number_or_none(transferred_to) or transferred_to[:20]
    session.flush()
    session.refresh(call, ["messages", "turns"])
    apply_summary(session, call, summary)  # from the transcript, before a company's privacy rules remove it
    if call.recording_objected or call.company.retention_days == 0:
        forget_call_content(session, call, recording=call.recording_objected)
    if commit:
        session.commit()
    return call


def mark_recording_objected(session: Session, call_id: int, commit: bool = True) -> Call:
    """The caller objected to the recording: remember it (the transcript goes when the call closes) and delete
    any audio kept so far at once."""
    call = _call(session, call_id)
    call.recording_objected = True
    if call.recording_path:
        delete_recordings([call.recording_path], DeletionReport())
        call.recording_path = None
    if commit:
        session.commit()
    return call


def set_recording(session: Session, call_id: int, path: str, commit: bool = True) -> bool:
    """Point the call at its audio file; refused (False, the file deleted) when the caller objected meanwhile."""
    call = _call(session, call_id)
    if call.recording_objected:
        delete_recordings([path], DeletionReport())
        return False
    call.recording_path = path
    if commit:
        session.commit()
    return True


def get_call(session: Session, call_id: int) -> Call | None:
    return session.get(Call, call_id)


def call_by_sid(session: Session, call_sid: str) -> Call | None:
    return session.scalar(select(Call).where(Call.call_sid == call_sid).order_by(Call.id.desc()).limit(1))


def _call_filters(session: Session, company: Company | str | None, company_ids: Iterable[int] | None,
                  since: datetime | None, until: datetime | None, outcome: str | None, language: str | None,
                  channel: str | None) -> list:
    where = []
    if company is not None:
        where.append(Call.company_id == resolve(session, company).id)
    if company_ids is not None:
        where.append(Call.company_id.in_(list(company_ids)))
    if since is not None:
        where.append(Call.started_at >= since)
    if until is not None:
        where.append(Call.started_at < until)
    if outcome == "in_progress":
        where.append(Call.outcome.is_(None))
    elif outcome is not None:
        where.append(Call.outcome == outcome)
    if language is not None:
        where.append(Call.language == language)
    if channel is not None:
        where.append(Call.channel == channel)
    return where


def list_calls(session: Session, *, company: Company | str | None = None, company_ids: Iterable[int] | None = None,
               since: datetime | None = None, until: datetime | None = None, outcome: str | None = None,
               language: str | None = None, channel: str | None = None, limit: int = 50,
               offset: int = 0) -> list[Call]:
    """Calls, newest first, filtered. ``company_ids`` limits to what a user may see; ``outcome="in_progress"``
    selects calls that have not finished."""
    where = _call_filters(session, company, company_ids, since, until, outcome, language, channel)
    stmt = select(Call).where(*where).order_by(Call.started_at.desc(), Call.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def count_calls(session: Session, *, company: Company | str | None = None, company_ids: Iterable[int] | None = None,
                since: datetime | None = None, until: datetime | None = None, outcome: str | None = None,
                language: str | None = None, channel: str | None = None) -> int:
    """How many calls :func:`list_calls` would page through with the same filters."""
    where = _call_filters(session, company, company_ids, since, until, outcome, language, channel)
    return session.scalar(select(func.count(Call.id)).where(*where)) or 0


def record_faq_gap(session: Session, company: Company | str, question: str, language: str | None = None,
                   call_id: int | None = None, *, now: datetime | None = None,
                   commit: bool = True) -> FaqGap | None:
    """Remember a caller question nothing in the knowledge base answered (None for an empty question)."""
    question = (question or "").strip()
    if not question:
        return None
    row = resolve(session, company)
    gap = FaqGap(company_id=row.id, question=question, language=language, call_id=call_id,
                 created_at=now or utcnow())
    session.add(gap)
    if commit:
        session.commit()
    return gap


@dataclass(frozen=True)
class GapGroup:
    """Open FAQ gaps that ask the same thing, most asked first: one candidate for a new FAQ entry."""

    question: str  # the most recent wording
    count: int
    gap_ids: tuple[int, ...]
    languages: tuple[str, ...]
    last_asked: datetime


def _gap_key(question: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", question.casefold()).split())


def faq_gap_groups(session: Session, company: Company | str, limit: int = 100) -> list[GapGroup]:
    """Unresolved FAQ gaps of a company grouped by their normalised wording."""
    row = resolve(session, company)
    gaps = session.scalars(select(FaqGap).where(FaqGap.company_id == row.id, FaqGap.resolved_at.is_(None))
                           .order_by(FaqGap.created_at.desc(), FaqGap.id.desc()))
    groups: dict[str, list[FaqGap]] = {}
    for gap in gaps:
        groups.setdefault(_gap_key(gap.question), []).append(gap)
    result = [GapGroup(question=items[0].question, count=len(items), gap_ids=tuple(g.id for g in items),
                       languages=tuple(sorted({g.language for g in items if g.language})),
                       last_asked=items[0].created_at) for items in groups.values()]
    result.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return result[:limit]


def open_faq_gaps(session: Session, company: Company | str, gap_ids: Iterable[int]) -> list[FaqGap]:
    """The company's still-open gaps among ``gap_ids``, oldest first; ids of other companies are ignored, so a
    form or API call can never touch another company's caller questions."""
    ids = [int(g) for g in gap_ids]
    if not ids:
        return []
    row = resolve(session, company)
    return list(session.scalars(select(FaqGap).where(FaqGap.id.in_(ids), FaqGap.company_id == row.id,
                                                     FaqGap.resolved_at.is_(None))
                                .order_by(FaqGap.created_at, FaqGap.id)))


def resolve_faq_gaps(session: Session, gap_ids: Iterable[int], now: datetime | None = None,
                     commit: bool = True) -> int:
    """Mark gaps answered (an FAQ entry was added for them); returns how many were open."""
    gaps = list(session.scalars(select(FaqGap).where(FaqGap.id.in_(list(gap_ids)), FaqGap.resolved_at.is_(None))))
    for gap in gaps:
        gap.resolved_at = now or utcnow()
    if commit:
        session.commit()
    return len(gaps)
