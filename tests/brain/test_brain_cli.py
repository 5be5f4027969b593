"""`receptionist call COMPANY --text`: the exact JSON-lines contract, run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.brain_support import PROFILE_YAML

pytestmark = pytest.mark.slow  # real CLI subprocesses, 4-6 s each: in `make test`, not in `make test-fast`

ROOT = Path(__file__).resolve().parents[2]
TURN_KEYS = {"caller", "bot", "action", "intent", "entry_question"}
FINAL_KEYS = {"outcome", "message", "transferred_to"}


def run_call(tmp_path: Path, lines: list[str], *args: str, lookup: bool = True, data_dir: Path | None = None,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    profile = tmp_path / "company.yaml"
    profile.write_text(PROFILE_YAML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RECEPTIONIST_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["RECEPTIONIST_DATA_DIR"] = str(data_dir or tmp_path / "data")
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "bot.cli", "call", "praxis-berger", "--text", "--profile", str(profile), *args]
    if lookup:
        cmd += ["--lookup", "tests.support.brain_support:lookup_factory"]
    return subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


def saved_messages(data_dir: Path) -> list[dict]:
    """Messages as the store holds them (read with plain sqlite3: what survives is what is on disk)."""
    import sqlite3

    con = sqlite3.connect(data_dir / "receptionist.db")
    try:
        rows = con.execute("SELECT c.slug, m.caller_name, m.caller_number, m.urgency, m.concern FROM messages m "
                           "JOIN companies c ON c.id = m.company_id ORDER BY m.id").fetchall()
    finally:
        con.close()
    return [dict(zip(("company", "name", "number", "urgency", "concern"), row)) for row in rows]


def parse(proc: subprocess.CompletedProcess) -> tuple[list[dict], dict]:
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    *turns, final = records
    for t in turns:
        assert TURN_KEYS <= set(t), t
    assert set(final) == FINAL_KEYS
    return turns, final


def test_message_out_of_hours_german(tmp_path: Path) -> None:
    lines = ["Wann haben Sie geöffnet?", "und am Samstag?", "Ich möchte meine Rechnung reklamieren", "ja",
             "Max Müller", "null eins sieben eins, zwo drei vier fünf sechs vier sieben", "nein, am Ende 48", "ja",
             "", "nein", "Danke, tschüss"]
    turns, final = parse(run_call(tmp_path, lines, "--at", "2026-12-24T20:15", "--lang", "de"))
    assert len(turns) == len(lines) + 1  # greeting + one bot turn per caller line
    assert turns[0]["caller"] is None and "Praxis Dr. Berger" in turns[0]["bot"]
    assert [t["caller"] for t in turns[1:]] == lines
    assert turns[1]["intent"] == "faq" and turns[1]["entry_question"].startswith("Wann haben Sie geöffnet")
    assert turns[2]["entry_question"].startswith("Haben Sie am Samstag")
    assert turns[3]["intent"] == "not_covered" and turns[3]["entry_question"] is None
    assert turns[-2]["action"] == "save_message" and turns[-1]["action"] == "hangup"
    assert final == {"outcome": "message", "transferred_to": None, "message": {
        "name": "Max Müller", "number": "+491712345648", "concern": "Ich möchte meine Rechnung reklamieren",
        "urgency": "normal"}}
    saved = saved_messages(tmp_path / "data")
    assert len(saved) == 1 and saved[0]["number"] == "+491712345648" and saved[0]["company"] == "praxis-berger"
    import sqlite3  # the call itself is recorded like a phone call: outcome and the whole transcript

    con = sqlite3.connect(tmp_path / "data" / "receptionist.db")
    (call_id, outcome, channel), = con.execute("SELECT id, outcome, channel FROM calls").fetchall()
    speakers = [r[0] for r in con.execute("SELECT speaker FROM call_turns WHERE call_id=? ORDER BY seq", (call_id,))]
    con.close()
    assert (outcome, channel) == ("message", "cli")
    con = sqlite3.connect(tmp_path / "data" / "receptionist.db")
    gaps = [r[0] for r in con.execute("SELECT question FROM faq_gaps")]
    con.close()
    assert gaps == ["Ich möchte meine Rechnung reklamieren"]  # the unanswered question reaches the FAQ-gap page
    assert speakers.count("caller") == len([x for x in lines if x]) and speakers.count("bot") == len(lines) + 1


def test_transfer_in_office_hours_english(tmp_path: Path) -> None:
    turns, final = parse(run_call(tmp_path, ["When are you open?", "a real person please", "never read"],
                                  "--at", "2026-12-01T10:00", "--lang", "en"))
    assert turns[1]["language"] == "en" and turns[1]["intent"] == "faq"
    assert turns[2]["action"] == "transfer" and turns[2]["transfer_to"] == "+493012345678"
    assert len(turns) == 3  # the call belongs to the secretary after the transfer
    assert final == {"outcome": "transferred", "message": None, "transferred_to": "+493012345678"}


def test_unanswered_transfer_and_keypad_number(tmp_path: Path) -> None:
    lines = ["DTMF:0", "John Smith", "DTMF:01712345678#", "yes", "It is about my prescription, urgent please"]
    turns, final = parse(run_call(tmp_path, lines, "--at", "2026-12-01T10:00", "--lang", "en", "--transfer-fails"))
    assert turns[1]["action"] == "transfer"
    assert turns[2]["caller"] is None and turns[2]["expecting"] == "name"  # transfer_failed answer
    assert final["outcome"] == "message" and final["transferred_to"] is None
    assert final["message"] == {"name": "John Smith", "number": "+491712345678",
                                "concern": "It is about my prescription, urgent please", "urgency": "urgent"}


def test_failed_save_is_not_confirmed(tmp_path: Path) -> None:
    import sqlite3

    data = tmp_path / "data"
    migrate = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], capture_output=True, text=True,
                             cwd=ROOT, env={**os.environ, "RECEPTIONIST_DATA_DIR": str(data)}, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    con = sqlite3.connect(data / "receptionist.db")  # the real store refuses every message, like a full disk
    con.execute("CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    con.commit()
    con.close()
    lines = ["Ich möchte eine Nachricht hinterlassen", "Max Müller", "0171 2345678", "ja", "Rezept", "nein"]
    turns, final = parse(run_call(tmp_path, lines, "--at", "2026-12-24T20:15", data_dir=data))
    last = turns[-1]
    assert last["intent"] == "save_failed" and last["failed_action"] == "save_message"
    assert "aufgenommen" not in last["bot"] and "null drei null" in last["bot"]  # secretary's number instead
    assert final["message"] is None and final["outcome"] == "abandoned"
    assert saved_messages(data) == []


def test_caller_hangs_up_silently(tmp_path: Path) -> None:
    turns, final = parse(run_call(tmp_path, ["", "", ""], "--at", "2026-12-01T10:00"))
    assert [t["intent"] for t in turns] == ["greeting", "silence", "silence", "silence"]
    assert turns[-1]["action"] == "hangup"
    assert final == {"outcome": "abandoned", "message": None, "transferred_to": None}


@pytest.mark.parametrize("args,lines,error", [
    (["--at", "heute"], ["hallo"], "is not an ISO date-time"),
    (["--wav", "caller.wav"], [], "choose one of --text and --wav"),
    ([], ["DTMF:12a"], "only digits, * and # may follow"),
])
def test_errors_are_plain(tmp_path: Path, args: list[str], lines: list[str], error: str) -> None:
    proc = run_call(tmp_path, lines, *args)
    assert proc.returncode != 0 and error in proc.stderr


def test_unknown_company_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "call", "no-such-company", "--text"], input="",
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1 and "company 'no-such-company' not found" in proc.stderr


def test_with_the_real_knowledge_base(tmp_path: Path) -> None:
    proc = run_call(tmp_path, ["Wann haben Sie geöffnet?"], "--at", "2026-12-01T10:00", lookup=False)
    turns, final = parse(proc)
    # an empty index answers nothing: the caller is offered a hand-off, never an invented fact
    assert turns[1]["intent"] == "not_covered" and turns[1]["entry_question"] is None


def test_llm_mode_falls_back_when_the_server_is_down(tmp_path: Path) -> None:
    from tests.conftest import free_port

    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "RECEPTIONIST_LLM_TIMEOUT_S": "2"}
    turns, final = parse(run_call(tmp_path, ["Wann haben Sie geöffnet?", "Danke, tschüss"], "--at",
                                  "2026-12-01T10:00", extra_env=env))
    assert turns[1]["intent"] == "faq" and turns[1]["entry_question"].startswith("Wann haben Sie geöffnet")
    assert final["outcome"] == "answered"


def test_confirmed_message_survives_a_kill_right_after_the_confirmation(tmp_path: Path) -> None:
    """SIGKILL the runner as soon as it has printed the confirmation: the message must already be on disk."""
    profile = tmp_path / "company.yaml"
    profile.write_text(PROFILE_YAML, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.pop("OPENAI_BASE_URL", None)
    env.pop("OPENAI_API_KEY", None)
    env["RECEPTIONIST_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "call", "praxis-berger", "--text", "--profile", str(profile),
         "--at", "2026-12-24T20:15", "--lookup", "tests.support.brain_support:lookup_factory"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        for line in ["Ich möchte eine Nachricht hinterlassen", "Erika Mustermann", "0171 2345678", "ja",
                     "Bitte dringend zurückrufen wegen Befund"]:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        confirmation = None
        for out in proc.stdout:  # stdin stays open: the caller is still on the line
            record = json.loads(out)
            if record.get("intent") == "message_saved":
                confirmation = record
                proc.kill()
                break
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert confirmation is not None and proc.returncode == -9
    saved = saved_messages(tmp_path / "data")
    assert [(m["name"], m["number"], m["urgency"]) for m in saved] == [("Erika Mustermann", "+491712345678", "urgent")]


def test_an_objection_to_the_recording_keeps_the_message_and_deletes_the_transcript(tmp_path: Path) -> None:
    lines = ["Ich möchte nicht aufgezeichnet werden.", "Ich möchte eine Nachricht hinterlassen", "Max Müller",
             "null eins sieben eins, zwo drei vier fünf sechs vier sieben", "ja", "Es geht um mein Rezept", "nein",
             "Danke, tschüss"]
    proc = run_call(tmp_path, lines, "--at", "2026-12-24T20:15", "--lang", "de")
    assert proc.returncode == 0, proc.stderr
    *turns, final = [json.loads(line) for line in proc.stdout.splitlines()]
    assert turns[1]["intent"] == "object_recording" and turns[1]["action"] == "stop_recording"
    assert "nicht aufgezeichnet" in turns[1]["bot"]
    assert final["recording_objected"] is True and final["message"]["name"] == "Max Müller"
    assert FINAL_KEYS <= set(final)  # the contract's keys stay; the objection is an addition
    assert [m["name"] for m in saved_messages(tmp_path / "data")] == ["Max Müller"]
    import sqlite3

    con = sqlite3.connect(tmp_path / "data" / "receptionist.db")
    try:
        (objected, summary), = con.execute("SELECT recording_objected, summary FROM calls").fetchall()
        turns_left = con.execute("SELECT count(*) FROM call_turns").fetchone()[0]
    finally:
        con.close()
    assert objected == 1 and turns_left == 0 and "Max Müller" in summary  # summary written before the deletion
