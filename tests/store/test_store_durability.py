"""A saved message survives the process being killed right after save_message returns (SQLite and PostgreSQL).

The child process saves a message and SIGKILLs itself the instant save_message returns: no atexit handler, no
connection close, no checkpoint. A control run that stops one step short of the commit proves the test can fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.settings import Settings
from bot.store import repo
from bot.store.db import dispose_engines, init_db, session_scope
from bot.store.models import Call, Message, Outbox

REPO_ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, signal, sys
from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.store.models import Message

msg = CallMessage(name="Erika Muster", number="+491712345678", concern="Bitte Rückruf wegen Befund",
                  urgency="urgent", language="de")
with session_scope(Settings(_env_file=None)) as session:
    call = repo.start_call(session, "praxis-berger", channel="cli", caller_number="+491712345678")
    print("call", call.id, flush=True)
    if sys.argv[1] == "save":
        repo.save_message(session, "praxis-berger", msg, call.id)
        os.kill(os.getpid(), signal.SIGKILL)  # the instant the bot would say "saved"
    else:  # control: everything save_message does, except the commit
        session.add(Message(company_id=call.company_id, call_id=call.id, caller_name=msg.name,
                            caller_number=msg.number, concern=msg.concern, urgency=msg.urgency,
                            language=msg.language, status="new"))
        session.flush()
        os.kill(os.getpid(), signal.SIGKILL)
"""


def _run_child(mode: str) -> int:
    dispose_engines()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return int(proc.stdout.split()[1])


@pytest.fixture
def prepared(db_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    init_db(db_settings)
    monkeypatch.setenv("RECEPTIONIST_DATA_DIR", str(db_settings.data_dir))
    with session_scope(db_settings) as session:
        repo.create_company(session, "praxis-berger", name="Praxis Dr. Berger", email="praxis@example.com")
    return db_settings


def test_saved_message_survives_sigkill_right_after_save(prepared: Settings) -> None:
    call_id = _run_child("save")
    with session_scope(prepared) as session:
        if session.bind.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        messages = session.scalars(select(Message)).all()
        assert len(messages) == 1
        m = messages[0]
        assert (m.caller_name, m.caller_number, m.concern, m.urgency, m.call_id) == \
            ("Erika Muster", "+491712345678", "Bitte Rückruf wegen Befund", "urgent", call_id)
        outbox = session.scalars(select(Outbox)).all()
        assert [(o.kind, o.message_id, o.status) for o in outbox] == [("email", m.id, "pending")]
        assert session.get(Call, call_id).outcome == "message"


def test_control_an_uncommitted_message_is_lost_on_sigkill(prepared: Settings) -> None:
    call_id = _run_child("control")
    with session_scope(prepared) as session:
        assert session.get(Call, call_id) is not None  # start_call committed
        assert session.scalars(select(Message)).all() == []
