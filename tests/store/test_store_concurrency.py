"""Several processes at once: each migrates an empty database at start and then writes messages.

This is what happens when the web server and call workers start together: migrations must serialise (file lock
beside SQLite, advisory lock on PostgreSQL) and concurrent writers must wait for each other, not fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from bot.store.db import current_revision, dispose_engines, get_engine, head_revision, session_scope
from bot.store.models import Company, Message

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKERS, MESSAGES = 3, 15

CHILD = r"""
import sys
from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope

settings = Settings(_env_file=None)
init_db(settings)
with session_scope(settings) as s:
    company = repo.ensure_company(s, "praxis")
    for i in range(int(sys.argv[2])):
        repo.save_message(s, "praxis", CallMessage(f"Worker {sys.argv[1]} #{i}", "+491712345678", "Test", "normal",
                                                   "de"))
print("done")
"""


@pytest.mark.slow
def test_parallel_start_migrates_once_and_all_writes_land(db_settings: Settings,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEPTIONIST_DATA_DIR", str(db_settings.data_dir))
    dispose_engines()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(w), str(MESSAGES)], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(WORKERS)]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and out.strip() == "done", err
    assert current_revision(get_engine(db_settings)) == head_revision()
    with session_scope(db_settings) as s:
        assert s.scalar(select(func.count(Company.id))) == 1
        assert s.scalar(select(func.count(Message.id))) == WORKERS * MESSAGES
        names = set(s.scalars(select(Message.caller_name)))
        assert names == {f"Worker {w} #{i}" for w in range(WORKERS) for i in range(MESSAGES)}
