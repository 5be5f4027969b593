"""`receptionist company …` and `receptionist db …`: real subprocesses for the main flow (SQLite and PostgreSQL),
click's runner in-process for the matrix of bad input (each must fail clearly and write nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.settings import Settings
from bot.store.db import head_revision

REPO_ROOT = Path(__file__).resolve().parents[2]


def receptionist(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_company_cli_end_to_end(db_settings: Settings) -> None:
    r = receptionist("company", "add", "praxis-berger", "--name", "Praxis Dr. Berger", "--bundesland", "by",
                     "--office-hours", "mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00",
                     "--secretary", "030 1234567", "--secretary-name", "Frau Berger",
                     "--phone", "+49 89 1234567", "--phone", "040 7654321", "--email", "praxis@example.com")
    assert r.returncode == 0, r.stderr
    assert "created company praxis-berger" in r.stdout and "+49891234567" in r.stdout

    r = receptionist("company", "set", "praxis-berger", "--language", "en", "--retention-days", "14",
                     "--remove-phone", "040 7654321", "--phone", "+49 30 5555555", "--recording",
                     "--webhook-url", "https://hooks.example.com/x", "--webhook-secret", "geheim")
    assert r.returncode == 0, r.stderr

    r = receptionist("company", "show", "praxis-berger", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["name"] == "Praxis Dr. Berger" and data["bundesland"] == "BY"
    assert data["office_hours"] == "mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"
    assert data["secretary_number"] == "+49301234567" and data["secretary_name"] == "Frau Berger"
    assert sorted(data["phone_numbers"]) == ["+49305555555", "+49891234567"]
    assert data["default_language"] == "en" and data["languages"] == ["de", "en"]
    assert data["retention_days"] == 14 and data["recording_enabled"] is True
    assert data["webhook_secret_set"] is True and "geheim" not in r.stdout

    r = receptionist("company", "add", "praxis-berger", "--name", "Doppelt")
    assert r.returncode == 1 and "exists already" in r.stderr

    r = receptionist("company", "list")
    assert r.returncode == 0 and "praxis-berger" in r.stdout and "Praxis Dr. Berger" in r.stdout

    r = receptionist("db", "current")
    assert r.returncode == 0 and f"revision {head_revision()}" in r.stdout


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("RECEPTIONIST_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    r = runner.invoke(cli, ["company", "add", "werkstatt", "--name", "Werkstatt Koch", "--phone", "+49 40 555123"])
    assert r.exit_code == 0, r.output
    return runner


def _snapshot(runner: CliRunner) -> dict:
    r = runner.invoke(cli, ["company", "show", "werkstatt", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("args,reason", [
    (["--phone", "12"], "'12' is not a valid phone number"),
    (["--phone", "call me"], "is not a phone number"),
    (["--secretary", "+49 123"], "not a valid phone number"),
    (["--timezone", "Berlin"], "unknown time zone 'Berlin'; use an IANA name"),
    (["--bundesland", "Bayern"], "unknown Bundesland 'Bayern'; use one of"),
    (["--office-hours", "weekdays 8-18"], "unknown weekday"),
    (["--office-hours", "mon-fri 18:00-08:00"], "ends before it starts"),
    (["--language", "fr"], "unsupported language 'fr'"),
    (["--languages", "de", "--language", "en"], "default language 'en' is not among"),
    (["--email", "no-at-sign"], "not an e-mail address"),
    (["--webhook-url", "hooks.example.com"], "must start with https://"),
    (["--retention-days", "-1"], "-1 is not in the range"),
    (["--speaking-rate", "5"], "speaking rate 5.0 is out of range"),
])
def test_bad_input_fails_clearly_and_writes_nothing(cli_env: CliRunner, args: list[str], reason: str) -> None:
    before = _snapshot(cli_env)
    # a valid change in the same command must not be written either
    r = cli_env.invoke(cli, ["company", "set", "werkstatt", "--name", "Geändert", *args])
    assert r.exit_code != 0
    assert reason in r.output
    assert "Traceback" not in r.output
    assert _snapshot(cli_env) == before
    r = cli_env.invoke(cli, ["company", "add", "neu", "--name", "Neu", *args])
    assert r.exit_code != 0 and reason in r.output
    assert cli_env.invoke(cli, ["company", "show", "neu"]).exit_code == 1


def test_add_refuses_a_number_of_another_company_and_unknown_companies(cli_env: CliRunner) -> None:
    r = cli_env.invoke(cli, ["company", "add", "praxis", "--phone", "040 555123"])
    assert r.exit_code == 1 and "+4940555123 already reaches company 'werkstatt'" in r.output
    assert "no company 'praxis'" in cli_env.invoke(cli, ["company", "show", "praxis"]).output
    r = cli_env.invoke(cli, ["company", "set", "praxis", "--name", "x"])
    assert r.exit_code == 1 and "no company 'praxis'" in r.output
    r = cli_env.invoke(cli, ["company", "set", "werkstatt"])
    assert r.exit_code == 2 and "nothing to change" in r.output
    r = cli_env.invoke(cli, ["company", "add", "Bad_Slug"])
    assert r.exit_code == 1 and "company id 'Bad_Slug' is not valid" in r.output


def test_company_ensure_creates_once_and_never_changes(cli_env: CliRunner) -> None:
    r = cli_env.invoke(cli, ["company", "ensure", "neue-firma"])
    assert r.exit_code == 0 and "company neue-firma created (Neue Firma)" in r.output
    r = cli_env.invoke(cli, ["company", "ensure", "werkstatt", "--name", "Anders"])
    assert r.exit_code == 0 and "company werkstatt exists (Werkstatt Koch)" in r.output


def test_defaults_of_a_new_company(cli_env: CliRunner) -> None:
    data = _snapshot(cli_env)
    assert (data["default_language"], data["languages"], data["timezone"], data["office_hours"]) == \
        ("de", ["de", "en"], "Europe/Berlin", "mon-fri 09:00-17:00")
    assert (data["retention_days"], data["recording_enabled"], data["bundesland"]) == (30, False, None)
    r = cli_env.invoke(cli, ["company", "list", "--json"])
    assert [json.loads(line)["slug"] for line in r.output.splitlines()] == ["werkstatt"]


def test_db_forget_caller_and_purge(cli_env: CliRunner, settings: Settings) -> None:
    from bot.brain.types import CallMessage
    from bot.store import repo
    from bot.store.db import session_scope

    with session_scope(settings) as s:
        repo.save_message(s, "werkstatt", CallMessage("Kunde", "+491712345678", "Bremsen", "normal", "de"))
    r = cli_env.invoke(cli, ["db", "forget-caller", "0171 2345678"])
    assert r.exit_code == 0 and "1 messages" in r.output
    r = cli_env.invoke(cli, ["db", "forget-caller", "xyz"])
    assert r.exit_code == 1 and "is not a phone number" in r.output
    r = cli_env.invoke(cli, ["db", "purge"])
    assert r.exit_code == 0 and "deleted 0 messages" in r.output
