"""`receptionist kb add NEW-COMPANY FILE` creates the company, so `receptionist call NEW-COMPANY --text` answers.

Real subprocesses on a fresh data dir (SQLite store + embedded index), as a user runs them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # real CLI subprocesses, 2-14 s each: in `make test`, not in `make test-fast`

FAQ = """# Häufige Fragen

## Wann haben Sie geöffnet?

Montag bis Freitag von 7 bis 16 Uhr.

## Kann ich mein Auto über Nacht dalassen?

Ja, auf dem Hof ist Platz für Ihr Auto.
"""


def receptionist(args: list[str], env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=REPO_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def env(tmp_path: Path) -> dict:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("RECEPTIONIST_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    base.update(RECEPTIONIST_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO_ROOT))
    return base


def companies(env: dict) -> list[tuple]:
    db = Path(env["RECEPTIONIST_DATA_DIR"]) / "receptionist.db"
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT slug, name, default_language, timezone, greeting_de FROM companies").fetchall()
    finally:
        con.close()


def test_kb_add_creates_a_new_company_that_answers_calls_from_the_faq(env: dict, tmp_path: Path) -> None:
    faq = tmp_path / "faq.md"
    faq.write_text(FAQ, encoding="utf-8")
    added = receptionist(["kb", "add", "new-co", str(faq)], env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added     faq.md: 2 entries, ")  # the per-file contract, unchanged
    assert len(added.stdout.splitlines()) == 1

    call = receptionist(["call", "new-co", "--text", "--at", "2026-12-01T10:00"], env,
                        stdin="Wann haben Sie geöffnet?\nDanke, tschüss\n")
    assert call.returncode == 0, call.stderr
    greeting, answer, bye, final = [json.loads(line) for line in call.stdout.splitlines()]
    assert greeting["intent"] == "greeting" and "New Co" in greeting["bot"]
    assert answer["intent"] == "faq" and answer["entry_question"] == "Wann haben Sie geöffnet?"
    assert "7 bis 16 Uhr" in answer["bot"]
    assert bye["intent"] == "goodbye" and final["outcome"] == "answered"
    # The store's defaults for a new company: name from the slug, German, Berlin time, the standard greeting.
    assert companies(env) == [("new-co", "New Co", "de", "Europe/Berlin", None)]
    assert "created company new-co (New Co) with default settings" in added.stderr

    again = receptionist(["kb", "add", "new-co", str(faq)], env)  # existing company: no second creation
    assert again.returncode == 0 and again.stdout.startswith("unchanged ") and "created company" not in again.stderr
    assert len(companies(env)) == 1


@pytest.mark.parametrize("slug", ["New-Co", "new_co", "new-co-", "new co"])
def test_kb_add_with_an_invalid_company_id_is_a_clear_error_and_creates_nothing(env: dict, tmp_path: Path,
                                                                                slug: str) -> None:
    faq = tmp_path / "faq.md"
    faq.write_text(FAQ, encoding="utf-8")
    out = receptionist(["kb", "add", slug, str(faq)], env)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("error: ") and "company id" in out.stderr and repr(slug) in out.stderr
    assert companies(env) == []
    assert not (Path(env["RECEPTIONIST_DATA_DIR"]) / "chroma").exists()  # no index either


def test_kb_add_with_only_failing_files_creates_no_company(env: dict, tmp_path: Path) -> None:
    out = receptionist(["kb", "add", "new-co", str(tmp_path / "missing.md")], env)
    assert out.returncode == 1 and "1 of 1 file(s) failed" in out.stderr and "created company" not in out.stderr
    assert companies(env) == []
