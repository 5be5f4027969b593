"""The demo companies: profiles load, every document parses, with the expected number of FAQ entries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.demo import DEMO_DIR, company_dirs, documents
from bot.runtime.companies import load_profile
from knowledge.ingest import parse_file
from knowledge.ingest.text import detect_language

# file -> (FAQ pairs, prose chunks, language of the pairs)
EXPECTED = {
    "praxis-berger/FAQ.md": (9, 1, "de"),
    "praxis-berger/Rezepte_und_Ueberweisungen.docx": (5, 2, "de"),
    "praxis-berger/Anfahrt_Parken_Barrierefreiheit.pdf": (5, 1, "de"),
    "praxis-berger/Impfungen_und_IGeL.xlsx": (6, 0, "de"),
    "kfz-huber/faq.html": (8, 1, "de"),
    "kfz-huber/preise.txt": (6, 1, "de"),
    "kfz-huber/service.json": (6, 0, "de"),
    "keller-wright/faq.md": (6, 1, "en"),
    "keller-wright/Client_Guide.docx": (5, 1, "en"),
    "keller-wright/fees.csv": (5, 0, "en"),
    "keller-wright/Directions.pdf": (4, 1, "en"),
}


def test_three_demo_companies_with_valid_profiles() -> None:
    profiles = {p.slug: p for p in (load_profile(d / "company.yaml") for d in company_dirs())}
    assert sorted(profiles) == ["keller-wright", "kfz-huber", "praxis-berger"]
    berger = profiles["praxis-berger"]
    assert (berger.bundesland, berger.default_language) == ("BE", "de")
    assert len(berger.office_hours) == 8  # five mornings, three afternoons
    assert profiles["kfz-huber"].bundesland == "BY"
    keller = profiles["keller-wright"]
    assert (keller.bundesland, keller.default_language, keller.languages) == ("HE", "en", ("en", "de"))
    for p in profiles.values():
        assert p.secretary_number and p.secretary_number.startswith("+49") and p.secretary_number[1:].isdigit()
        assert p.phone_numbers and p.name and p.office_hours


def test_every_demo_document_is_listed() -> None:
    found = {str(p.relative_to(DEMO_DIR)) for d in company_dirs() for p in documents(d)}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("relpath", sorted(EXPECTED))
def test_demo_document_entry_counts(relpath: str) -> None:
    faq_count, chunk_count, language = EXPECTED[relpath]
    doc = parse_file(DEMO_DIR / relpath)
    faq = [e for e in doc.entries if e.kind == "faq"]
    assert len(faq) == faq_count
    assert len(doc.entries) - len(faq) == chunk_count
    assert {e.language for e in faq} == {language}
    assert all(e.question.endswith("?") and len(e.answer) > 10 for e in faq)
    assert doc.warnings == ()


def test_company_totals_match_the_brief() -> None:
    totals = {}
    for relpath, (faq, _, _) in EXPECTED.items():
        company = relpath.split("/")[0]
        totals[company] = totals.get(company, 0) + faq
    assert totals == {"praxis-berger": 25, "kfz-huber": 20, "keller-wright": 20}


def test_demo_facts_survive_parsing() -> None:
    md = parse_file(DEMO_DIR / "praxis-berger" / "FAQ.md")
    emergency = next(e for e in md.entries if "außerhalb der Sprechzeiten" in e.question)
    assert "116117" in emergency.answer and "112" in emergency.answer
    pdf = parse_file(DEMO_DIR / "praxis-berger" / "Anfahrt_Parken_Barrierefreiheit.pdf")
    parking = next(e for e in pdf.entries if e.question == "Gibt es Parkplätze an der Praxis?")
    assert parking.location == "page 1, section Anfahrt, Parken und Barrierefreiheit"
    assert "eine Stunde kostet 3 Euro" in parking.answer


def test_every_demo_question_lists_caller_phrasings_that_are_never_spoken() -> None:
    """Callers rarely use the FAQ's wording: every entry carries >= 3 other phrasings, none left in the answer."""
    import re

    label = re.compile(r"auch gefragt|also asked", re.IGNORECASE)
    for relpath in EXPECTED:
        for e in parse_file(DEMO_DIR / relpath).entries:
            assert not label.search(e.answer), (relpath, e.question)
            if e.kind != "faq":
                assert e.alternates == (), (relpath, e.question)
                continue
            assert len(e.alternates) >= 3, (relpath, e.question, e.alternates)
            for alt in e.alternates:
                assert alt not in e.answer and not label.search(alt) and len(alt) <= 120, (relpath, alt)
                assert alt.casefold() != e.question.casefold()
            if relpath.startswith("keller-wright/"):  # the office serves German callers too
                assert any(detect_language(a) == "de" for a in e.alternates), (relpath, e.question)
                assert any(detect_language(a) == "en" for a in e.alternates), (relpath, e.question)


def test_build_script_regenerates_identical_content(tmp_path: Path) -> None:
    """The committed binaries are what the sources say: rebuilt files parse to the same entries."""
    import shutil

    copy = tmp_path / "demo"
    shutil.copytree(DEMO_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pdf", "*.docx", "*.xlsx"))
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, evals.build_demo_documents as b; from pathlib import Path; "
            f"b.DEMO_DIR = Path({str(copy)!r}); sys.exit(b.main())")
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for relpath in EXPECTED:
        if relpath.endswith((".pdf", ".docx", ".xlsx")):
            rebuilt, committed = parse_file(copy / relpath), parse_file(DEMO_DIR / relpath)
            assert rebuilt.entries == committed.entries, relpath


def test_inspection_command_prints_entries_and_errors(tmp_path: Path) -> None:
    import json

    (tmp_path / "leer.txt").write_bytes(b"")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "knowledge.ingest", str(DEMO_DIR / "kfz-huber" / "service.json"),
                             str(tmp_path / "leer.txt")], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 6 and lines[0]["question"] == "Was mache ich bei einer Panne?"
    assert "error: leer.txt: the file is empty." in result.stderr
    assert "service.json: json, 6 questions, 0 text chunks" in result.stderr


def test_held_out_paraphrase_cases_fit_the_demo_documents() -> None:
    """evals/data/demo_paraphrases.yaml: every expected question exists, no caller wording is a listed phrasing."""
    from evals import demo_paraphrases as ev

    cases = ev.load_cases()
    assert len(cases) >= 60 and sum(c.gold is None for c in cases) >= 15
    assert {c.company for c in cases} == {"keller-wright", "kfz-huber", "praxis-berger"}
    entries = {slug: [e for p in ev.company_documents(slug) for e in parse_file(p).entries if e.kind == "faq"]
               for slug in ("keller-wright", "kfz-huber", "praxis-berger")}
    assert {s: len(e) for s, e in entries.items()} == {"keller-wright": 20, "kfz-huber": 20, "praxis-berger": 25}
    ev.check_cases(cases, entries)  # raises SystemExit naming the bad case
    leaked = [c for c in cases if c.gold] + [ev.Case("kfz-huber", "Öffnungszeiten?", None)]
    with pytest.raises(SystemExit, match="not held out"):
        ev.check_cases(leaked, entries)
