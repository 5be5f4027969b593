"""One media stream per Twilio call at a time, and none after the call is over, across every worker process.

A stream token proves that our signed TwiML answer asked for the stream; it does not stop the same ``start`` from
being sent twice (a captured token replayed, or a replayed signed webhook that mints a fresh token). The claim row
does: the first stream of a call INSERTs it (the primary key on ``call_sid`` makes a second insert fail in every
process sharing the database), and only the stream Twilio opens after a failed transfer may take it over again, by
a conditional UPDATE from ``transferring`` that exactly one caller can win.

States: ``streaming`` (a bot session runs) -> ``transferring`` (the call was redirected to the secretary; a
``transfer_failed`` stream may resume it) or ``ended`` (final; every later stream is refused).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import StreamClaim, utcnow


def claim_stream(session: Session, call_sid: str, *, resume: bool = False, now: datetime | None = None) -> bool:
    """Take the call's stream claim (committed); False when another stream has or had it.

    ``resume``: the stream that brings the caller back after an unanswered transfer; it may only follow a stream
    that ended in a transfer, and only one such stream can win.
    """
    now = now or utcnow()
    if resume:
        won = session.execute(
            update(StreamClaim).where(StreamClaim.call_sid == call_sid, StreamClaim.state == "transferring")
            .values(state="streaming", streams=StreamClaim.streams + 1, updated_at=now)).rowcount == 1
        session.commit()
        return won
    session.add(StreamClaim(call_sid=call_sid, state="streaming", streams=1, claimed_at=now, updated_at=now))
    try:
        session.commit()
    except IntegrityError:  # the call's first stream was started already (here or in another process)
        session.rollback()
        return False
    return True


def release_stream(session: Session, call_sid: str, *, transferring: bool, now: datetime | None = None) -> None:
    """The stream ended: the call was handed to the secretary (a resume may follow), or the bot's part is over."""
    values = {"state": "transferring" if transferring else "ended", "updated_at": now or utcnow()}
    if transferring:
        values["screening"] = None  # a new transfer: the secretary has not answered this one yet
    session.execute(update(StreamClaim).where(StreamClaim.call_sid == call_sid, StreamClaim.state == "streaming")
                    .values(**values))
    session.commit()


def end_call(session: Session, call_sid: str, now: datetime | None = None) -> None:
    """Twilio reported the call over: no stream may start for it any more (also when none ever did)."""
    now = now or utcnow()
    if session.execute(update(StreamClaim).where(StreamClaim.call_sid == call_sid)
                       .values(state="ended", updated_at=now)).rowcount == 0:
        session.add(StreamClaim(call_sid=call_sid, state="ended", streams=0, claimed_at=now, updated_at=now))
        try:
            session.commit()
        except IntegrityError:  # a stream claimed it meanwhile: end that one
            session.rollback()
            session.execute(update(StreamClaim).where(StreamClaim.call_sid == call_sid)
                            .values(state="ended", updated_at=now))
    session.commit()


def claim_state(session: Session, call_sid: str) -> str | None:
    return session.scalar(select(StreamClaim.state).where(StreamClaim.call_sid == call_sid))


SCREENINGS = ("accepted", "declined")


def screen(session: Session, call_sid: str, decision: str, now: datetime | None = None) -> bool:
    """Record what the secretary pressed after a warm transfer's briefing; only the first answer counts (a replayed
    or late second request cannot turn a decline into an accept). False when the call is not being transferred."""
    if decision not in SCREENINGS:
        raise ValueError(f"unknown screening {decision!r}; use one of {', '.join(SCREENINGS)}")
    done = session.execute(update(StreamClaim).where(StreamClaim.call_sid == call_sid,
                                                     StreamClaim.state == "transferring",
                                                     StreamClaim.screening.is_(None))
                           .values(screening=decision, updated_at=now or utcnow())).rowcount == 1
    session.commit()
    return done


def screening(session: Session, call_sid: str) -> str | None:
    return session.scalar(select(StreamClaim.screening).where(StreamClaim.call_sid == call_sid))
