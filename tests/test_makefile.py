"""The Makefile's promises: `make clean` never deletes user data, and the documented targets exist."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def dry_run(target: str) -> list[str]:
    """The command lines ``make TARGET`` would run (nothing is executed)."""
    proc = subprocess.run(["make", "-n", "-C", str(ROOT), target], capture_output=True, text=True, check=True)
    return [line for line in proc.stdout.splitlines() if line.strip() and not line.startswith("make")]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_clean_never_removes_the_data_dir() -> None:
    commands = [shlex.split(line) for line in dry_run("clean")]
    assert any(words[:2] == ["rm", "-rf"] and ".venv" in words for words in commands)
    removed = {word.rstrip("/") for words in commands if words[:1] == ["rm"] for word in words[1:]}
    assert not removed & {"data", "./data", str(ROOT / "data")}


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["lint", "test-fast", "test", "run", "install"])
def test_documented_targets_exist(target: str) -> None:
    assert dry_run(target)
