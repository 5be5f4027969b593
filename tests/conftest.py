"""Shared fixtures: isolated settings per test, and the location of ../shared/data."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bot.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RECEPTIONIST_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
TEST_OUTPUT = REPO_ROOT / "test-output"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose data dir is a fresh temp folder; no RECEPTIONIST_* variable of the caller leaks in."""
    for key in list(os.environ):
        if key.startswith("RECEPTIONIST_") or key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RECEPTIONIST_DATA_DIR", str(tmp_path / "data"))
    return Settings(_env_file=None)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords are still hashed with argon2id, at its smallest cost: the product's parameters (argon2-cffi's
    recommended ones, bot/store/passwords.py) cost ~0.25 s of CPU per hash or check, and the web tests log in
    hundreds of times. CLI subprocesses and ``receptionist serve`` started by a test keep the real parameters."""
    from argon2 import PasswordHasher

    from bot.store import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (set RECEPTIONIST_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def test_output() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- database fixtures (bot/store) ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the whole test session (see tests/support/pg.py); skips if PostgreSQL is not installed."""
    from tests.support.pg import PostgresServer, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer(free_port())
    server.start()
    yield server
    from bot.store.db import dispose_engines

    dispose_engines()
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """SQLAlchemy URL of an empty database on the session's PostgreSQL server (emptied before each test)."""
    from bot.store.db import dispose_engines

    dispose_engines()
    return postgres_server.empty_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """Isolated settings on an empty database: SQLite in the temp data dir, or a fresh PostgreSQL database.

    The URL is also exported as RECEPTIONIST_DATABASE_URL, so CLI subprocesses started by the test use it too.
    """
    from bot.store.db import dispose_engines

    if request.param == "postgresql":
        monkeypatch.setenv("RECEPTIONIST_DATABASE_URL", request.getfixturevalue("postgres_url"))
        settings = Settings(_env_file=None)
    yield settings
    dispose_engines()
@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real Chroma server (`chroma run` from the chromadb package) on a free port; yields (host, port)."""
    import shutil
    import subprocess
    import sys
    import time
    import urllib.request

    binary = Path(sys.executable).with_name("chroma")
    binary = str(binary) if binary.is_file() else shutil.which("chroma")
    if not binary:
        pytest.skip("the `chroma` server binary (chromadb package) is not installed")
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (path / "server.log").open("wb")
    proc = subprocess.Popen([binary, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"chroma server did not start: {(path / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield "127.0.0.1", port
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


# --- `make test-fast` ---------------------------------------------------------------------------------------------

SERVER_FIXTURES = {"postgres_server", "postgres_url", "chroma_server"}


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that needs a database or index server of its own is ``slow``: in `make test`, not in `make test-fast`.

    That is the PostgreSQL variant of every ``db_settings`` test (its SQLite variant stays fast) and every test using
    the PostgreSQL or Chroma server fixtures.
    """
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) or params.get("db_settings") == "postgresql":
            item.add_marker(pytest.mark.slow)
