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
