"""Moving spooled messages (:mod:`bot.store.spool`) into the database: exactly once, retried until it works.

A move stores the message (with its notifications, :func:`bot.store.messages.save_message`) under the spool file's
id, commits, and only then removes the file. If the process dies between the two, the next move finds the id in
``messages.spool_id`` and just removes the file; two movers racing for one file are kept apart by a file lock and,
across machines sharing a database, by the unique ``spool_id``. A locked or unreachable database leaves the file
where it is for the next round: the serve process drains at start and every few seconds, and right after each
call's save; ``receptionist outbox run`` and ``receptionist outbox drain`` drain it from the shell.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.store import spool
from bot.store.calls import call_by_sid
from bot.store.companies import NotFound
from bot.store.db import session_scope
from bot.store.messages import save_message
from bot.store.models import Call, Message

log = logging.getLogger(__name__)

DRAIN_INTERVAL_S = 5.0
PG_LOCK_TIMEOUT = "30s"  # a move waits this long for a locked table, then leaves the file for the next round
# One thread moves (and drains) in this process: a move may wait up to 30 s on a locked database, and must not
# hold threads the calls need meanwhile (the default executor, the spool's writers).
_mover = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-move")


@dataclass
class DrainReport:
    moved: int = 0  # stored in the database now
    duplicates: int = 0  # were stored already (an earlier move died before removing the file)
    dropped: int = 0  # their company no longer exists (its messages are deleted with it)
    busy: int = 0  # another mover is at it
    failed: int = 0  # the database refused or was unreachable: still spooled, tried again later
    errors: list[str] = field(default_factory=list)

    @property
    def left(self) -> int:
        return self.busy + self.failed


def _stored(session: Session, spool_id: str) -> bool:
    return session.scalar(select(Message.id).where(Message.spool_id == spool_id)) is not None


def _call_id(session: Session, entry: spool.SpooledMessage) -> int | None:
    if entry.call_id is not None and session.get(Call, entry.call_id) is not None:
        return entry.call_id
    row = call_by_sid(session, entry.call_sid) if entry.call_sid else None
    return row.id if row else None


def store(settings: Settings, entry: spool.SpooledMessage) -> str:
    """Put one spooled message into the database: "moved", "duplicate" or "dropped"; raises when it cannot."""
    with session_scope(settings) as session:
        if session.bind.dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL lock_timeout = '{PG_LOCK_TIMEOUT}'"))
        if _stored(session, entry.id):
            return "duplicate"
        try:
            save_message(session, entry.company, entry.message, _call_id(session, entry), now=entry.created_at,
                         spool_id=entry.id)
        except NotFound:
            log.warning("spooled message %s: company %s no longer exists; dropped", entry.id, entry.company)
            return "dropped"
        except IntegrityError:  # another machine moved it at the same moment
            session.rollback()
            if _stored(session, entry.id):
                return "duplicate"
            raise
    return "moved"


def move(settings: Settings, path: Path) -> str:
    """Move one spool file: "moved", "duplicate", "dropped", "busy" or "gone"; raises when the database fails."""
    with spool.locked(path, wait=False) as fh:
        if fh is None:
            return "gone" if not path.exists() else "busy"
        entry = spool.SpooledMessage.from_json(fh.read())
        outcome = store(settings, entry)
        spool.remove(path)  # only after the commit: a crash in between is a "duplicate" next time
        return outcome


def drain(settings: Settings, directory: Path | None = None) -> DrainReport:
    """Move every spooled message that can be moved now (oldest first)."""
    directory = directory or spool.spool_dir(settings)
    report = DrainReport()
    spool.remove_stale_temps(directory)
    paths = spool.entries(directory)
    for i, path in enumerate(paths):
        try:
            outcome = move(settings, path)
        except Exception as exc:  # the database is locked or down: the rest waits for the next round too
            report.failed += len(paths) - i
            report.errors.append(f"{path.name}: {type(exc).__name__}: {exc}"[:500])
            log.warning("%d spooled message(s) not moved yet: %s", len(paths) - i, type(exc).__name__)
            break
        if outcome == "moved":
            report.moved += 1
        elif outcome == "duplicate":
            report.duplicates += 1
        elif outcome == "dropped":
            report.dropped += 1
        elif outcome == "busy":
            report.busy += 1
    if report.moved or report.duplicates:
        log.info("spool: %d message(s) moved into the database, %d already there", report.moved, report.duplicates)
    return report


def move_soon(settings: Settings, path: Path) -> None:
    """From a call: try to move its message now, in the background (the periodic drain retries if this fails)."""
    def run() -> None:
        try:
            move(settings, path)
        except Exception as exc:
            log.warning("spooled message %s: database not reachable yet (%s); the drain retries",
                        path.stem, type(exc).__name__)

    asyncio.get_running_loop().run_in_executor(_mover, run)


async def worker(settings: Settings, stop: asyncio.Event, interval_s: float = DRAIN_INTERVAL_S) -> None:
    """Drain at start (recovery after a crash or a database outage), then every ``interval_s``, until ``stop``."""
    while not stop.is_set():
        try:
            await asyncio.get_running_loop().run_in_executor(_mover, drain, settings)
        except Exception:
            log.exception("spool drain failed; next try in %.0f s", interval_s)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except asyncio.TimeoutError:
            pass
