"""`receptionist serve` starts a real HTTP server on the port it is given."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import httpx

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_serve_answers_on_given_port(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.update({"RECEPTIONIST_DATA_DIR": str(tmp_path / "d"), "PYTHONPATH": str(REPO)})
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.3)
        assert r.json()["status"] == "ok"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5, follow_redirects=True)  # -> login page
        assert page.status_code == 200 and "Telefonsekretariat" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
