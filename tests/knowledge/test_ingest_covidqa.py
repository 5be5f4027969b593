"""Real FAQ data: the German COVID-QA rows (deepset-ai/COVID-QA, Apache-2.0) as an office would export them.

The rows are written to CSV (semicolon, UTF-8 with BOM, as Excel saves it) and XLSX (with a title row above the
header) in a temp folder, then parsed back; every row must become exactly one entry with its question and answer.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from knowledge.ingest import parse_bytes, parse_file
from knowledge.ingest.text import clean_inline


@pytest.fixture
def german_rows(shared_data: Path) -> list[dict[str, str]]:
    csv.field_size_limit(10**9)
    with (shared_data / "covidqa_deepset" / "faq_200327.tsv").open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r["lang"] == "de"]
    assert len(rows) == 399
    return rows


def _expected(rows) -> list[tuple[str, str]]:
    return [(clean_inline(r["question"]), clean_inline(r["answer"])) for r in rows]


def test_covidqa_german_csv_export(tmp_path: Path, german_rows) -> None:
    path = tmp_path / "corona_faq.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["Frage", "Antwort", "Quelle"])
        writer.writerows([r["question"], r["answer"], r["source"]] for r in german_rows)
    doc = parse_file(path)
    assert doc.format == "csv"
    assert [(e.question, e.answer) for e in doc.entries] == _expected(german_rows)
    assert doc.entries[0].location == "row 2" and doc.entries[-1].location == "row 400"
    assert sum(e.language == "de" for e in doc.entries) / len(doc.entries) >= 0.97
    assert {e.kind for e in doc.entries} == {"faq"}


def test_covidqa_german_xlsx_export(tmp_path: Path, german_rows) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Corona FAQ"
    ws.append(["Häufige Fragen zum Coronavirus (Stand 27.03.2020)"])
    ws.append([])
    ws.append(["Kategorie", "FRAGE", "ANTWORT"])
    for r in german_rows:
        ws.append([r["source"], r["question"], r["answer"]])
    wb.save(tmp_path / "corona_faq.xlsx")
    doc = parse_file(tmp_path / "corona_faq.xlsx")
    assert doc.format == "xlsx"
    assert [(e.question, e.answer) for e in doc.entries] == _expected(german_rows)
    assert doc.entries[0].location.startswith("sheet Corona FAQ, row 4, section ")


def test_covidqa_original_tsv_reads_every_row_with_its_language(shared_data: Path) -> None:
    doc = parse_file(shared_data / "covidqa_deepset" / "faq_200327.tsv")
    assert len(doc.entries) == 896
    assert sum(e.language == "de" for e in doc.entries) >= 399  # lang column "de" is taken as given


def test_covidqa_german_as_an_html_faq_page(german_rows) -> None:
    """The official answers' own HTML under <h3> questions: every question is found, answers keep their text."""
    import html

    page = "<html><body><h1>Corona FAQ</h1>" + "".join(
        f"<h3>{html.escape(r['question'])}</h3>{r['answer_html']}" for r in german_rows) + "</body></html>"
    doc = parse_bytes(page.encode(), "corona.html")
    expected = {clean_inline(r["question"]) for r in german_rows}
    found = [e.question for e in doc.entries if e.kind == "faq"]
    assert expected <= set(found)
    # one official answer contains a stand-alone rhetorical question paragraph, which reads as a question of its own
    assert len(set(found) - expected) <= 2
    assert len(found) - len(set(found) - expected) == len(german_rows)  # duplicated official questions stay separate
    first = next(e for e in doc.entries if e.question == clean_inline(german_rows[0]["question"]))
    assert first.answer == clean_inline(german_rows[0]["answer"])
    assert first.location == "section Corona FAQ"
