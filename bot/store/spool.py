"""The message spool: a caller's message on local disk, durable, before the database has it.

The bot may only say "your message is saved" once it is. Saving into the database can stall for as long as the
database is locked or unreachable, and the caller would hear silence and then lose the message; a file in
``DATA_DIR/spool/`` is local and takes milliseconds. So a call writes its message here (temp file, fsync, rename,
fsync of the folder: after :func:`write` returns the message survives a crash or power loss), confirms it, and
:mod:`bot.store.spool_drain` moves it into the database in the background, retrying until it is there.

Each file carries its own id (``<id>.json``), stored with the message as ``messages.spool_id`` (unique): a move
repeated after a crash between the database commit and the file's removal can never store the message twice.
The files hold personal data: the folder is 0700 and every file 0600, and the privacy jobs
(:mod:`bot.store.privacy`) erase spooled messages too.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import validate
from bot.store.models import LANGUAGES, URGENCIES, utcnow

log = logging.getLogger(__name__)

SUFFIX = ".json"
STALE_TEMP_S = 600.0  # a temp file this old is a write that crashed before its rename: never confirmed, removed
FORMAT = 1
# Spool writes get threads of their own: the default executor may be full of work waiting on a locked database.
_writers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="spool-write")


@dataclass(frozen=True)
class SpooledMessage:
    """A caller's message as the call left it, plus what the database needs to link it to its call."""

    company: str  # slug
    message: CallMessage
    call_sid: str | None = None  # to find the call's row when it is moved
    call_id: int | None = None  # the row itself, when the call already knew it
    caller_number: str | None = None  # the line's caller ID (forget-caller erases by it as well)
    created_at: datetime = field(default_factory=utcnow)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "id": self.id, "company": self.company, "message": asdict(self.message),
                           "call_sid": self.call_sid, "call_id": self.call_id, "caller_number": self.caller_number,
                           "created_at": self.created_at.isoformat()}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SpooledMessage:
        data = json.loads(text)
        message = CallMessage(**data["message"])
        return cls(id=data["id"], company=data["company"], message=message, call_sid=data.get("call_sid"),
                   call_id=data.get("call_id"), caller_number=data.get("caller_number"),
                   created_at=datetime.fromisoformat(data["created_at"]))


def spool_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / "spool"


def check_message(message: CallMessage) -> None:
    """Refuse now what the database would refuse later (a message must never fail only in the background)."""
    if message.urgency not in URGENCIES:
        raise ValueError(f"unknown urgency {message.urgency!r}; use one of {', '.join(URGENCIES)}")
    if message.language not in LANGUAGES:
        raise ValueError(f"unknown language {message.language!r}; use one of {', '.join(LANGUAGES)}")
    e164 = validate.phone_number_or_none(message.number)
    if e164 is not None:
        validate.callback_number(e164)  # premium-rate and service numbers: InvalidInput now, not in the drain


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_dir(directory: Path) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    return directory


def write(directory: Path, entry: SpooledMessage) -> Path:
    """Write ``entry`` durably (owner-only) and return its file; raises (and leaves nothing) when it cannot."""
    check_message(entry.message)
    _private_dir(directory)
    temp = directory / f".{entry.id}.tmp"
    final = directory / f"{entry.id}{SUFFIX}"
    data = entry.to_json().encode()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return final


async def awrite(directory: Path, entry: SpooledMessage) -> Path:
    """:func:`write` from the event loop, on the spool's own threads."""
    return await asyncio.get_running_loop().run_in_executor(_writers, write, directory, entry)


def entries(directory: Path) -> list[Path]:
    """Spooled message files, oldest first."""
    if not directory.is_dir():
        return []
    files = []
    for path in directory.glob(f"*{SUFFIX}"):
        try:
            files.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # moved meanwhile
            continue
    return [p for _, p in sorted(files)]


@contextmanager
def locked(path: Path, *, wait: bool) -> Iterator[IO[str] | None]:
    """The file opened and exclusively locked (one mover or eraser at a time); None when it is gone, or busy and
    ``wait`` is False. Inside, check ``path.exists()``: the holder before may have removed it."""
    try:
        fh = path.open("r+", encoding="utf-8")
    except FileNotFoundError:
        yield None
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield fh if path.exists() else None


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def remove_where(directory: Path, predicate: Callable[[SpooledMessage], bool]) -> int:
    """Erase every spooled message ``predicate`` picks (waiting for a move in progress); returns how many."""
    removed = 0
    for path in entries(directory):
        with locked(path, wait=True) as fh:
            if fh is None:
                continue
            try:
                entry = SpooledMessage.from_json(fh.read())
            except (ValueError, KeyError, TypeError):
                continue
            if predicate(entry):
                remove(path)
                removed += 1
    return removed


def remove_stale_temps(directory: Path, older_than_s: float = STALE_TEMP_S) -> int:
    """Temp files of writes that crashed before their rename (never confirmed to anyone): personal data, removed."""
    if not directory.is_dir():
        return 0
    cutoff, removed = time.time() - older_than_s, 0
    for temp in directory.glob(".*.tmp"):
        try:
            if temp.stat().st_mtime < cutoff:
                temp.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
