"""`receptionist kb …` as users run it: real subprocesses, one data dir, the exact output contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # real CLI subprocesses, 2-20 s each: in `make test`, not in `make test-fast`

POPULATE = """
from pathlib import Path
from knowledge.base import KnowledgeBase
from knowledge.documents import ParsedDocument, ParsedEntry
kb = KnowledgeBase(Path({data!r}))
kb.add_document("praxis", ParsedDocument("praxis-faq.md", "h1", "md", (
    ParsedEntry("Wann ist die Praxis geöffnet?", "Montag bis Freitag von 8 bis 18 Uhr.", "section Zeiten", "de"),
    ParsedEntry("Wo kann ich parken?", "Im Hof hinter dem Haus.", "section Anfahrt", "de"),
    ParsedEntry("Do you take new patients?", "Yes, new patients are welcome; please bring your insurance card.",
                "section Patients", "en"))))
kb.add_document("praxis", ParsedDocument("preise.md", "h2", "md", (
    ParsedEntry("Was kostet eine Zahnreinigung?", "Eine professionelle Zahnreinigung kostet 90 Euro.", "", "de"),)))
"""


def cli(args: list[str], env: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "kb", *args], cwd=REPO_ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = tmp_path_factory.mktemp("kb-cli") / "data"
    base = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    base.update(RECEPTIONIST_DATA_DIR=str(data), PYTHONPATH=str(REPO_ROOT))
    subprocess.run([sys.executable, "-c", POPULATE.format(data=str(data.resolve()))], cwd=REPO_ROOT, env=base,
                   check=True, timeout=180)
    return base


def test_list_shows_documents(env: dict) -> None:
    out = cli(["list", "praxis"], env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["praxis-faq.md", "preise.md"]
    assert "3 entries" in lines[0] and "1 entries" in lines[1]


def test_ask_prints_answer_source_score_and_decision(env: dict) -> None:
    out = cli(["ask", "praxis", "ähm wo kann ich denn mein auto parken"], env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "answer:   Im Hof hinter dem Haus." in text
    assert "source:   praxis-faq.md, section Anfahrt" in text
    assert "score:" in text and "decision:" in text


def test_ask_jsonl_contract(env: dict) -> None:
    questions = ["Was kostet die Zahnreinigung?", "", "what is the capital of australia", "wann habt ihr offen"]
    out = cli(["ask", "praxis", "--jsonl"], env, stdin="\n".join(questions) + "\n")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.strip().splitlines()]
    assert [r["question"] for r in rows] == [q for q in questions if q]  # blank lines skipped, order kept
    for r in rows:
        assert {"question", "answerable", "entry_question", "answer", "score", "source"} <= set(r)
        assert isinstance(r["answerable"], bool) and 0.0 <= r["score"] <= 1.0
    assert rows[0]["entry_question"] == "Was kostet eine Zahnreinigung?" and rows[0]["source"] == "preise.md"
    assert rows[1]["answerable"] is False  # off-topic: hand off
    assert rows[2]["entry_question"] == "Wann ist die Praxis geöffnet?"


def test_errors_are_plain_and_non_zero(env: dict, tmp_path: Path) -> None:
    out = cli(["ask", "nobody", "hallo"], env)
    assert out.returncode == 1 and "has no documents" in out.stderr
    out = cli(["ask", "praxis"], env)
    assert out.returncode == 1 and "--jsonl" in out.stderr
    out = cli(["add", "praxis", str(tmp_path / "missing.pdf"), str(tmp_path / "gone.docx")], env)
    assert out.returncode == 1
    assert "2 of 2 file(s) failed" in out.stderr and "missing.pdf: no such file" in out.stderr
    assert "gone.docx" in out.stderr
    out = cli(["remove", "praxis", "nicht-da.pdf"], env)
    assert out.returncode == 1 and "no document 'nicht-da.pdf'" in out.stderr and "praxis-faq.md" in out.stderr
    out = cli(["list", "Not Valid"], env)
    assert out.returncode == 1 and "invalid company id" in out.stderr


def test_remove_then_list(env: dict) -> None:
    out = cli(["remove", "praxis", "preise.md"], env)
    assert out.returncode == 0 and "removed preise.md (1 entries)" in out.stdout
    assert [line.split("\t")[0] for line in cli(["list", "praxis"], env).stdout.strip().splitlines()] == \
        ["praxis-faq.md"]


def test_add_files_reports_per_file_errors_and_keeps_the_good_ones(env: dict, tmp_path: Path) -> None:
    good = tmp_path / "oeffnungszeiten.md"
    good.write_text("# FAQ\n\n## Haben Sie samstags geöffnet?\n\nJa, samstags von 9 bis 12 Uhr.\n", encoding="utf-8")
    bad = tmp_path / "kaputt.pdf"
    bad.write_bytes(b"this is not a pdf")
    out = cli(["add", "werkstatt", str(good), str(bad)], env)
    assert out.returncode == 1
    assert "1 of 2 file(s) failed" in out.stderr and "kaputt.pdf" in out.stderr
    listed = cli(["list", "werkstatt"], env).stdout
    assert "oeffnungszeiten.md" in listed and "kaputt.pdf" not in listed
    again = cli(["add", "werkstatt", str(good)], env)
    assert again.returncode == 0 and "unchanged" in again.stdout


def test_learn_learned_forget(env: dict) -> None:
    lines = [{"question": "Gibt es bei euch Parkplätze", "entry_question": "wo kann ich parken?", "language": "de"},
             {"question": "Verkauft ihr Zahnbürsten?", "entry_question": None}]
    out = cli(["learn", "praxis", "--jsonl"], env, stdin="\n".join(json.dumps(x) for x in lines) + "\n\n")
    assert out.returncode == 0, out.stderr
    assert "learned 2 new, 0 relabelled, 0 unchanged" in out.stdout and "1 filed phrasings" in out.stdout
    assert "1 not-covered" in out.stdout and "not active yet" in out.stdout
    listed = cli(["learned", "praxis", "--jsonl"], env)
    rows = [json.loads(line) for line in listed.stdout.strip().splitlines()]
    assert rows == [{"question": "Gibt es bei euch Parkplätze", "entry_question": "Wo kann ich parken?",
                     "language": "de"},
                    {"question": "Verkauft ihr Zahnbürsten?", "entry_question": None, "language": None}]
    again = cli(["learn", "praxis", "--jsonl"], env, stdin=listed.stdout)  # its own output reads back unchanged
    assert again.returncode == 0 and "0 new, 0 relabelled, 2 unchanged" in again.stdout
    ask = json.loads(cli(["ask", "praxis", "--jsonl"], env, stdin="Gibt es bei euch Parkplätze\n").stdout)
    assert ask["entry_question"] == "Wo kann ich parken?" and ask["answerable"] is True
    out = cli(["forget", "praxis", "Verkauft ihr Zahnbürsten?"], env)
    assert out.returncode == 0 and "forgot" in out.stdout
    assert "1 learned questions" in cli(["learned", "praxis"], env).stdout


def test_learn_rejects_the_whole_batch_on_a_bad_line(env: dict) -> None:
    before = cli(["learned", "praxis", "--jsonl"], env).stdout
    good = json.dumps({"question": "Habt ihr samstags offen", "entry_question": "Wann ist die Praxis geöffnet?"})
    for bad, message in (("{not json", "line 2 is not JSON"),
                         (json.dumps({"entry_question": None}), "line 2 needs"),
                         (json.dumps({"question": "Wo ist das?", "entry_question": "Gibt es nicht"}),
                          "does not have")):
        out = cli(["learn", "praxis", "--jsonl"], env, stdin=good + "\n" + bad + "\n")
        assert out.returncode == 1 and message in out.stderr and "Nothing was learned" in out.stderr.replace(
            "nothing was learned", "Nothing was learned"), out.stderr
        assert cli(["learned", "praxis", "--jsonl"], env).stdout == before
    out = cli(["learn", "praxis", "--jsonl"], env, stdin="")
    assert out.returncode == 1 and "no labelled questions" in out.stderr
    out = cli(["forget", "praxis", "nie gelernt"], env)
    assert out.returncode == 1 and "no learned question" in out.stderr


def test_a_demo_company_can_be_asked_on_a_fresh_data_dir(tmp_path: Path) -> None:
    """A fresh checkout: `kb ask praxis-berger …` indexes the demo documents first (as `serve --demo` and `call`
    do) instead of failing with "no documents"; a company that is not a demo still gets the plain error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.update(RECEPTIONIST_DATA_DIR=str(tmp_path / "fresh"), PYTHONPATH=str(REPO_ROOT))
    out = cli(["ask", "praxis-berger", "--jsonl"], env, stdin="Wann ist die Praxis geöffnet?\n")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["answerable"] and row["entry_question"] == "Wann sind Ihre Sprechzeiten?" and row["source"] == "FAQ.md"
    assert "indexing the demo companies' FAQ documents" in out.stderr
    again = cli(["ask", "praxis-berger", "--jsonl"], env, stdin="Wo kann ich parken?\n")
    assert again.returncode == 0 and "indexing" not in again.stderr  # once
    unknown = cli(["ask", "no-such-firm", "Hallo?"], env)
    assert unknown.returncode == 1 and "no documents" in unknown.stderr
