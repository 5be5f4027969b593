"""A locked database neither keeps the caller waiting nor loses the message (issue 11, item 9).

The database is locked for real from another connection (SQLite: ``BEGIN EXCLUSIVE``; PostgreSQL: ``LOCK TABLE
messages IN ACCESS EXCLUSIVE MODE``) while a call saves its message through the product's save path
(:class:`bot.runtime.live_calls.StoreCallLog` behind the voice pipeline's :class:`BrainAdapter`, with the real brain). The
checks are orderings, not stopwatch readings: the confirmation is spoken while the lock is still held, and the
message reaches the database after it is released, exactly once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from pipecat.pipeline.pipeline import Pipeline
from pipecat.tests.utils import SleepFrame, run_test
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

import prompts
from bot.brain.numbers import speak_digits
from bot.brain.receptionist import Receptionist
from bot.brain.types import CallMessage
from bot.runtime.live_calls import StoreCallLog
from bot.pipeline.brain_adapter import BrainAdapter, CallActions, SessionResponder
from bot.settings import Settings
from bot.store import repo, spool, spool_drain
from bot.store.db import database_url, init_db, make_engine, session_scope
from bot.store.models import Company, Message, Outbox, utcnow
from bot.store.privacy import delete_caller_data, purge_expired
from bot.store.recorder import CallRecorder
from tests.support.brain_support import CLOSED, Caller, KeywordLookup, profile
from tests.support.telephony_harness import wait_for
from tests.pipeline.test_pipeline_adapter import SpeechSpy, speech

REPO_ROOT = Path(__file__).resolve().parents[2]
CALL_SID = "CA" + "7" * 32
CALLER = "+4917612345678"
NUMBER_SAID = "null eins sieben eins, zwo drei vier fünf sechs vier sieben"
NUMBER = "+491712345647"


def phrase(key: str, **kw: str) -> str:
    return prompts.load("de", "phrases")[key].format(**kw)


CONFIRMATION = phrase("message_saved", name="Max Müller", digits=speak_digits(NUMBER, "de"))


class DatabaseLock:
    """Another connection holding the lock a stuck writer (a backup, a migration, a long report) would hold."""

    def __init__(self, settings: Settings, journal: list[str]) -> None:
        self.url = database_url(settings)
        self.journal = journal
        self.released = threading.Event()
        self._sqlite = self._conn = self._trans = self._engine = None

    def acquire(self) -> DatabaseLock:
        if self.url.startswith("sqlite"):
            self._sqlite = sqlite3.connect(make_url(self.url).database, isolation_level=None,
                                           check_same_thread=False)
            self._sqlite.execute("BEGIN EXCLUSIVE")
        else:
            self._engine = make_engine(self.url)
            self._conn = self._engine.connect()
            self._trans = self._conn.begin()
            self._conn.execute(text("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"))
        return self

    def release(self) -> None:
        if self.released.is_set():
            return
        self.journal.append("lock released")
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
        else:
            self._trans.rollback()
            self._conn.close()
            self._engine.dispose()
        self.released.set()

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.release)
        timer.start()
        return timer


@pytest.fixture
def store(db_settings: Settings) -> Settings:
    init_db(db_settings)
    with session_scope(db_settings) as s:
        repo.create_company(s, "praxis-berger", name="Praxis Dr. Berger", email="praxis@example.com")
        repo.create_company(s, "kanzlei-nebenan", name="Kanzlei nebenan")
        repo.start_call(s, "praxis-berger", channel="twilio", call_sid=CALL_SID, caller_number=CALLER)
    return db_settings


def other_calls_waiting_on_the_database(settings: Settings, count: int = 12) -> list[asyncio.Future]:
    """Database writes of other calls, stuck on the lock in the event loop's default threads (as a stream claim
    or a call record would be): the save must not queue behind them."""
    def write() -> None:
        with session_scope(settings) as s:
            repo.save_message(s, "kanzlei-nebenan", CallMessage("Nachbar", "+4930111111", "x", "normal", "de"))

    return [asyncio.ensure_future(asyncio.to_thread(write)) for _ in range(count)]


def caller_about_to_leave_a_message() -> SessionResponder:
    """The real brain, led through a message up to the last question ("Ist es dringend?")."""
    c = Caller(Receptionist(profile("de"), KeywordLookup()).session(), CLOSED, CALLER)
    c.connect()
    for line in ("Ich möchte eine Nachricht hinterlassen", "Mein Name ist Max Müller", NUMBER_SAID, "ja",
                 "Es geht um mein Rezept"):
        c.say(line)
    assert c.turns[-1].expecting == "urgency"
    return SessionResponder(c.session)


async def answer_last_question(save, journal: list[str], listen_s: float = 1.5) -> BrainAdapter:
    adapter = BrainAdapter(caller_about_to_leave_a_message(), actions=CallActions(save_message=save),
                           greet_on_start=False)
    await run_test(Pipeline([adapter, SpeechSpy(journal)]), frames_to_send=[speech("nein"), SleepFrame(listen_s)])
    return adapter


def stored(settings: Settings) -> list[Message]:
    with session_scope(settings) as s:
        return list(s.scalars(select(Message).join(Message.company).where(Company.slug == "praxis-berger")))


def outbox_rows(settings: Settings) -> list[tuple[str, int | None]]:
    with session_scope(settings) as s:
        return [(o.kind, o.message_id) for o in s.scalars(select(Outbox).where(Outbox.message_id.in_(
            [m.id for m in stored(settings)])))]


async def test_locked_database_caller_is_confirmed_from_the_spool_and_the_message_arrives_once(store) -> None:
    journal: list[str] = []
    call_log = StoreCallLog(store, CALL_SID, "praxis-berger", "twilio", CALLER)
    lock = DatabaseLock(store, journal).acquire()
    timer = lock.release_after(6.0)  # held well past the caller's last turn
    others = other_calls_waiting_on_the_database(store)
    try:
        await answer_last_question(call_log.save_message, journal)
        assert journal and journal[0] == f"speak:de:{CONFIRMATION}"  # confirmed while the database is locked
        assert not lock.released.is_set()
        (spooled,) = spool.entries(spool.spool_dir(store))
        crashed_copy = spooled.read_bytes()  # as the file would be if the mover died after its commit
    finally:
        timer.cancel()
        lock.release()
    assert journal[-1] == "lock released" and not any("gespeichert werden" in line for line in journal)
    await asyncio.gather(*others)

    # the mover started right after the save moves it once the lock is gone; the periodic drain finds nothing
    assert await wait_for(lambda: not spool.entries(spool.spool_dir(store)), 60), "still spooled"
    (message,) = stored(store)
    assert (message.caller_name, message.caller_number, message.concern, message.urgency, message.language) == \
        ("Max Müller", NUMBER, "Es geht um mein Rezept", "normal", "de")
    assert message.spool_id == spooled.stem
    with session_scope(store) as s:
        assert message.call_id == repo.call_by_sid(s, CALL_SID).id  # linked to its call
        assert [m.id for m in repo.list_messages(s, company="praxis-berger")] == [message.id]  # in the inbox
    assert outbox_rows(store) == [("email", message.id)]
    assert spool_drain.drain(store).moved == 0

    # a crash between the database commit and the file's removal: the file is back, the message is not doubled
    spooled.write_bytes(crashed_copy)
    report = spool_drain.drain(store)
    assert (report.moved, report.duplicates, report.left) == (0, 1, 0)
    assert [m.id for m in stored(store)] == [message.id] and outbox_rows(store) == [("email", message.id)]
    assert not spool.entries(spool.spool_dir(store))


async def test_a_hang_up_mid_message_reaches_the_database_as_a_partial_message(store) -> None:
    """The brain's partial message (issue 13) through the product's save path: spool file, mover, inbox row."""
    c = Caller(Receptionist(profile("de"), KeywordLookup()).session(), CLOSED, CALLER)
    c.connect()
    c.say("Ich möchte eine Nachricht hinterlassen")
    c.say("Mein Name ist Max Müller")
    (action,) = c.event("hangup").actions
    entry = spool.SpooledMessage(company="praxis-berger", message=action.message)
    assert spool.SpooledMessage.from_json(entry.to_json()).message.complete is False  # the spool file keeps it
    await StoreCallLog(store, CALL_SID, "praxis-berger", "twilio", CALLER).save_message(action)
    assert await wait_for(lambda: not spool.entries(spool.spool_dir(store)), 60), "still spooled"
    (message,) = stored(store)
    assert (message.caller_name, message.caller_number, message.concern, message.complete) == \
        ("Max Müller", CALLER, "", False)
    with session_scope(store) as s:
        (mail,) = s.scalars(select(Outbox).where(Outbox.message_id == message.id))
        assert mail.payload["partial"] is True


@pytest.mark.slow
async def test_a_slow_save_gets_a_holding_phrase_then_the_confirmation(store) -> None:
    """Any pre-speech save that takes longer than a second: here the direct database save, under a real lock."""
    journal: list[str] = []
    recorder = CallRecorder(store, "praxis-berger", channel="twilio", call_sid=CALL_SID, caller_number=CALLER)
    recorder.start()
    lock = DatabaseLock(store, journal).acquire()
    timer = lock.release_after(2.5)

    async def save(action) -> None:
        await recorder.asave_message(action.message)

    try:
        adapter = await answer_last_question(save, journal, listen_s=5.0)
    finally:
        timer.cancel()
        lock.release()
        recorder.close()
    assert journal == [f"speak:de:{phrase('save_holding')}", "lock released", f"speak:de:{CONFIRMATION}"]
    assert ("bot", phrase("save_holding"), "save_holding") in adapter.log.lines
    assert len(stored(store)) == 1


async def test_when_even_the_spool_cannot_be_written_the_caller_hears_the_apology(store) -> None:
    journal: list[str] = []
    directory = spool.spool_dir(store)
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.write_text("not a folder")  # the spool cannot be created: a full or read-only disk looks the same
    call_log = StoreCallLog(store, CALL_SID, "praxis-berger", "twilio", CALLER)
    adapter = await answer_last_question(call_log.save_message, journal)
    apology = phrase("save_failed_with_number", secretary="Frau Berger", digits=speak_digits("+493012345678", "de"))
    assert journal == [f"speak:de:{apology}"]
    assert "Ihre Nachricht konnte gerade nicht gespeichert werden" in apology
    assert adapter.log.messages == [] and adapter.log.outcome != "message"
    assert stored(store) == []


def test_spool_files_are_owner_only_and_written_whole(settings: Settings) -> None:
    directory = spool.spool_dir(settings)
    old = os.umask(0o022)
    try:
        entry = spool.SpooledMessage(company="praxis-berger", message=CallMessage("Erika", CALLER, "Befund",
                                                                                  "urgent", "de"), call_sid=CALL_SID)
        path = spool.write(directory, entry)
    finally:
        os.umask(old)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in directory.iterdir()) == [f"{entry.id}.json"]  # no temp file left behind
    assert spool.SpooledMessage.from_json(path.read_text()) == entry
    with pytest.raises(ValueError, match="urgency"):  # refused at once, never only later in the background
        spool.write(directory, spool.SpooledMessage(company="x", message=CallMessage("A", CALLER, "B", "soon", "de")))
    assert spool.entries(directory) == [path]


def test_movers_racing_for_one_file_store_it_once(store) -> None:
    directory = spool.spool_dir(store)
    spool.write(directory, spool.SpooledMessage(company="praxis-berger", call_sid=CALL_SID,
                                                message=CallMessage("Erika", CALLER, "Befund", "normal", "de")))
    barrier = threading.Barrier(4)
    reports: list[spool_drain.DrainReport] = []

    def drain() -> None:
        barrier.wait()
        reports.append(spool_drain.drain(store))

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.moved for r in reports) == 1 and sum(r.failed for r in reports) == 0
    assert len(stored(store)) == 1 and not spool.entries(directory)


def test_forget_caller_and_retention_erase_spooled_messages_too(store) -> None:
    directory = spool.spool_dir(store)
    forgotten = spool.write(directory, spool.SpooledMessage(
        company="praxis-berger", message=CallMessage("Max", "0171 2345647", "Rezept", "normal", "de")))
    by_line = spool.write(directory, spool.SpooledMessage(
        company="praxis-berger", caller_number=NUMBER, message=CallMessage("Max", "+4930999999", "x", "normal", "de")))
    old = spool.write(directory, spool.SpooledMessage(
        company="praxis-berger", created_at=utcnow() - timedelta(days=31),
        message=CallMessage("Alt", "+4915199999999", "alt", "normal", "de")))
    kept = spool.write(directory, spool.SpooledMessage(
        company="praxis-berger", message=CallMessage("Erika", "+4915112345678", "Befund", "normal", "de")))
    with session_scope(store) as s:
        report = delete_caller_data(s, NUMBER, directory)
    assert (report.spooled, report.messages) == (2, 2)
    assert not forgotten.exists() and not by_line.exists()
    with session_scope(store) as s:
        assert purge_expired(s, spool_directory=directory).messages == 1  # 30 days' retention
    assert not old.exists() and spool.entries(directory) == [kept]
    assert spool_drain.drain(store).moved == 1
    assert [m.caller_name for m in stored(store)] == ["Erika"]


def test_outbox_drain_command_and_the_servers_start_move_what_is_spooled(store) -> None:
    from fastapi.testclient import TestClient

    from bot.web.app import create_app

    directory = spool.spool_dir(store)
    first = spool.write(directory, spool.SpooledMessage(
        company="praxis-berger", message=CallMessage("Erika", CALLER, "Befund", "normal", "de")))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RECEPTIONIST_DATA_DIR": str(store.data_dir)}
    receptionist = shutil.which("receptionist", path=str(Path(sys.executable).parent)) or "receptionist"
    done = subprocess.run([receptionist, "outbox", "drain"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "moved 1," in done.stdout and not first.exists()

    spool.write(directory, spool.SpooledMessage(
        company="praxis-berger", message=CallMessage("Max", CALLER, "Rezept", "normal", "de")))
    with TestClient(create_app(store, background=False)):  # startup recovery: the serve process drains at once
        assert wait_for_sync(lambda: not spool.entries(directory), 30)
    assert sorted(m.caller_name for m in stored(store)) == ["Erika", "Max"]
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.spool_id.is_(None))) == 0


def wait_for_sync(predicate, timeout_s: float) -> bool:
    import time

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())
