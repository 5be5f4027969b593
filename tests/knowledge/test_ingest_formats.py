"""Every supported format from real files, and the FAQ structure variants each one is recognised by."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.fixtures import make_pdf
from knowledge.ingest import parse_bytes, parse_file
from knowledge.ingest.text import split_sentences


def pairs(doc) -> list[tuple[str, str]]:
    return [(e.question, e.answer) for e in doc.entries if e.kind == "faq"]


# --- PDF ---------------------------------------------------------------------------------------------------------


def test_pdf_questions_pages_and_dehyphenation(tmp_path: Path) -> None:
    long_answer = ("Im Innenhof stehen vier Parkplätze für Patientinnen und Patienten zur Verfügung, weitere "
                   "Stellplätze gibt es im Parkhaus der Kulturbrauerei, das nur wenige Gehminuten entfernt liegt und "
                   "rund um die Uhr geöffnet hat; bitte denken Sie an die Terminvereinbarung.")
    path = make_pdf(tmp_path / "anfahrt.pdf", [
        f"# Anfahrt\n\nWo kann ich parken?\n\n{long_answer}\n\nGibt es einen Aufzug?\n\nJa, bis in den 3. Stock.",
        "# Über uns\n\nDie Praxis besteht seit 1998. Wir behandeln Erwachsene und Kinder. Termine vergeben wir "
        "telefonisch. Dr. Berger spricht auch Englisch. Parken ist im Hof möglich.",
    ])
    doc = parse_file(path)
    assert doc.format == "pdf"
    faq = [e for e in doc.entries if e.kind == "faq"]
    assert [(e.question, e.location) for e in faq] == [
        ("Wo kann ich parken?", "page 1, section Anfahrt"), ("Gibt es einen Aufzug?", "page 1, section Anfahrt")]
    assert faq[0].answer == long_answer  # wrapped lines joined, nothing lost or glued
    assert faq[1].answer == "Ja, bis in den 3. Stock."
    chunks = [e for e in doc.entries if e.kind == "chunk"]
    assert [c.question for c in chunks] == ["Über uns", "Über uns"]
    assert all(c.location == "page 2, section Über uns" for c in chunks)
    assert " ".join(c.answer for c in chunks).startswith("Die Praxis besteht seit 1998. Wir behandeln")


def test_pdf_hyphenated_line_breaks_are_joined() -> None:
    from knowledge.ingest.text import join_wrapped_lines

    assert join_wrapped_lines(["Bitte vereinbaren Sie einen Termin-", "vereinbarung vorab."]) == \
        "Bitte vereinbaren Sie einen Terminvereinbarung vorab."
    assert join_wrapped_lines(["Haus-", "und Fachärzte"]) == "Haus- und Fachärzte"
    assert join_wrapped_lines(["Die E-", "Mail-Adresse"]) == "Die E- Mail-Adresse"  # capital: not a split word


def test_pdf_q_a_markers_across_pages(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "qa.pdf", ["Q: Do you open on Saturdays?\n\nA: Yes, from 9 am to noon.",
                                          "Q: Can I pay by card?\n\nA: Yes, all major cards."])
    doc = parse_file(path)
    assert pairs(doc) == [("Do you open on Saturdays?", "Yes, from 9 am to noon."),
                          ("Can I pay by card?", "Yes, all major cards.")]
    assert [e.location for e in doc.entries] == ["page 1", "page 2"]
    assert {e.language for e in doc.entries} == {"en"}


# --- DOCX --------------------------------------------------------------------------------------------------------


def _docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Rezepte", level=1)
    d.add_paragraph("Hier finden Sie Antworten rund um Rezepte.")
    d.add_heading("Wie bestelle ich ein Rezept?", level=2)
    d.add_paragraph("Per Telefon oder E-Mail.")
    d.add_paragraph("Es ist nach zwei Tagen fertig.")
    d.add_paragraph().add_run("Gibt es E-Rezepte?").bold = True
    d.add_paragraph("Ja, auf die Karte.")
    p = d.add_paragraph()
    p.add_run("Kostet das etwas? ").bold = True
    p.add_run("Nein, Rezepte sind kostenlos.")
    d.add_paragraph("Wie lange ist ein Rezept gültig?", style="List Number")
    d.add_paragraph("Vier Wochen, E-Rezepte ebenso.")
    d.add_heading("Preise", level=2)
    table = d.add_table(rows=3, cols=2)
    for r, (q, a) in enumerate([("Frage", "Antwort"), ("Was kostet ein Attest?", "15 Euro."),
                                ("Was kostet eine Kopie?", "Die erste ist kostenlos.")]):
        table.cell(r, 0).text, table.cell(r, 1).text = q, a
    table2 = d.add_table(rows=2, cols=2)
    for r, (q, a) in enumerate([("Haben Sie WLAN?", "Ja, im Wartezimmer."), ("Gibt es Wasser?", "Ja, kostenlos.")]):
        table2.cell(r, 0).text, table2.cell(r, 1).text = q, a
    d.save(path)
    return path


def test_docx_heading_bold_lead_numbered_and_table_questions(tmp_path: Path) -> None:
    doc = parse_file(_docx(tmp_path / "rezepte.docx"))
    assert doc.format == "docx"
    assert pairs(doc) == [
        ("Wie bestelle ich ein Rezept?", "Per Telefon oder E-Mail. Es ist nach zwei Tagen fertig."),
        ("Gibt es E-Rezepte?", "Ja, auf die Karte."),
        ("Kostet das etwas?", "Nein, Rezepte sind kostenlos."),
        ("Wie lange ist ein Rezept gültig?", "Vier Wochen, E-Rezepte ebenso."),
        ("Was kostet ein Attest?", "15 Euro."),
        ("Was kostet eine Kopie?", "Die erste ist kostenlos."),
        ("Haben Sie WLAN?", "Ja, im Wartezimmer."),
        ("Gibt es Wasser?", "Ja, kostenlos."),
    ]
    by_q = {e.question: e for e in doc.entries}
    assert by_q["Was kostet ein Attest?"].location == "table 1, row 2, section Rezepte > Preise"
    assert by_q["Wie bestelle ich ein Rezept?"].location == "section Rezepte"
    chunk = [e for e in doc.entries if e.kind == "chunk"]
    assert [(c.question, c.answer) for c in chunk] == [("Rezepte", "Hier finden Sie Antworten rund um Rezepte.")]
    assert {e.language for e in doc.entries} == {"de"}


# --- Markdown, TXT, HTML -----------------------------------------------------------------------------------------


MARKDOWN = """# FAQ

Intro text for the practice. We are happy to help.

## How do I book an appointment?

Call us or book online.

**Do I need my insurance card?**

Yes, please bring it.

Q: Do you speak German?
A: Yes, and English.

Frage: Gibt es Parkplätze?
Antwort: Ja, im Hof.

1. Can I bring my dog?
   Only guide dogs, sorry.

| Question | Answer |
|---|---|
| Is there Wi-Fi? | Yes, free Wi-Fi. |

<script>alert("not content")</script>
"""


def test_markdown_variants(tmp_path: Path) -> None:
    (tmp_path / "faq.md").write_text(MARKDOWN, encoding="utf-8")
    doc = parse_file(tmp_path / "faq.md")
    assert doc.format == "md"
    assert pairs(doc) == [
        ("How do I book an appointment?", "Call us or book online."),
        ("Do I need my insurance card?", "Yes, please bring it."),
        ("Do you speak German?", "Yes, and English."),
        ("Gibt es Parkplätze?", "Ja, im Hof."),
        ("Can I bring my dog?", "Only guide dogs, sorry."),
        ("Is there Wi-Fi?", "Yes, free Wi-Fi."),
    ]
    assert [e.language for e in doc.entries if e.kind == "faq"] == ["en", "en", "en", "de", "en", "en"]
    assert not any("alert" in e.answer for e in doc.entries)


TXT = """HÄUFIGE FRAGEN
==============

Q: Wann haben Sie geöffnet?
A: Montag bis Freitag von 8 bis 18 Uhr,
samstags von 9 bis 12 Uhr.

F: Was kostet ein Ölwechsel?
A: Ab 89 Euro.

Question: Do you repair electric cars?
Answer: Yes, all brands.

3. Muss ich einen Termin machen? Ja, außer bei Pannen.

Kann ich mit Karte zahlen?
Ja, mit Girocard und Kreditkarte.
"""


def test_txt_markers_numbered_and_plain_question_lines() -> None:
    doc = parse_bytes(TXT.encode("utf-8"), "faq.txt")
    assert doc.format == "txt"
    assert pairs(doc) == [
        ("Wann haben Sie geöffnet?", "Montag bis Freitag von 8 bis 18 Uhr, samstags von 9 bis 12 Uhr."),
        ("Was kostet ein Ölwechsel?", "Ab 89 Euro."),
        ("Do you repair electric cars?", "Yes, all brands."),
        ("Muss ich einen Termin machen?", "Ja, außer bei Pannen."),
        ("Kann ich mit Karte zahlen?", "Ja, mit Girocard und Kreditkarte."),
    ]
    assert doc.entries[0].location == "line 4, section HÄUFIGE FRAGEN"


HTML = """<!doctype html><html><head><title>FAQ</title><style>p{color:red}</style>
<script>var secret = "Wie hoch ist der Stundensatz?";</script></head>
<body><nav><ul><li>Home</li><li>Kontakt?</li></ul></nav>
<h1>FAQ</h1>
<details><summary>Wann ist geöffnet?</summary><p>Mo–Fr 8–17 Uhr.</p></details>
<dl><dt>Gibt es Leihwagen?</dt><dd>Ja, zwei Stück.</dd></dl>
<div class="faq"><h3>Wie bezahle ich?</h3><div>Bar oder mit Karte.<br>Firmen auch auf Rechnung.</div></div>
<p><strong>Kann ich warten?</strong> Ja, im Kundenraum mit Kaffee.</p>
<ol><li>Was kostet der TÜV? 149 Euro inklusive AU.</li></ol>
<table><tr><th>Frage</th><th>Antwort</th></tr><tr><td>Haben Sie WLAN?</td><td>Ja.</td></tr></table>
<script>track("faq")</script><footer>Impressum</footer></body></html>"""


def test_html_variants_and_scripts_ignored() -> None:
    doc = parse_bytes(HTML.encode("utf-8"), "faq.html")
    assert doc.format == "html"
    assert pairs(doc) == [
        ("Wann ist geöffnet?", "Mo–Fr 8–17 Uhr."),
        ("Gibt es Leihwagen?", "Ja, zwei Stück."),
        ("Wie bezahle ich?", "Bar oder mit Karte. Firmen auch auf Rechnung."),
        ("Kann ich warten?", "Ja, im Kundenraum mit Kaffee."),
        ("Was kostet der TÜV?", "149 Euro inklusive AU."),
        ("Haben Sie WLAN?", "Ja."),
    ]
    text = " ".join(f"{e.question} {e.answer}" for e in doc.entries)
    assert "Stundensatz" not in text and "track" not in text and "Home" not in text and "Impressum" not in text
    assert doc.warnings == ()


def test_html_without_extension_is_detected_by_content() -> None:
    assert parse_bytes(HTML.encode(), "export").format == "html"


# --- CSV, XLSX, JSON ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "delimiter"), [
    ("Frage;Antwort", ";"), ("question,answer", ","), ("F\tA", "\t"), ("Q|A", "|"), ("FRAGE?;ANTWORT:", ";"),
    ("Thema;Antwort;Kategorie", ";"), ("Häufige Fragen;Unsere Antworten", ";"),
])
def test_csv_header_variants(header: str, delimiter: str) -> None:
    rows = [["Wann ist geöffnet?", "Montag bis Freitag.", "Allgemein"],
            ["Was kostet das, bitte?", "10 Euro.", "Preise"]]
    width = len(header.split(delimiter))
    body = "\n".join(delimiter.join(f'"{c}"' if delimiter in c or "," in c else c for c in r[:width]) for r in rows)
    doc = parse_bytes(f"{header}\n{body}\n".encode(), "faq.csv")
    assert pairs(doc) == [("Wann ist geöffnet?", "Montag bis Freitag."), ("Was kostet das, bitte?", "10 Euro.")]
    assert doc.entries[0].location.startswith("row 2")


def test_csv_header_not_on_first_row_and_extra_columns() -> None:
    csv = ("Praxis Berger – FAQ Export;;;\n;;;\nNr;Kategorie;Frage;Antwort\n1;Termine;Wann ist geöffnet?;Ab 8 Uhr.\n"
           "2;Rezepte;Wie bestelle ich ein Rezept?;Telefonisch.\n3;Rezepte;;\n")
    doc = parse_bytes(csv.encode("cp1252"), "export.csv")
    assert pairs(doc) == [("Wann ist geöffnet?", "Ab 8 Uhr."), ("Wie bestelle ich ein Rezept?", "Telefonisch.")]
    assert [e.location for e in doc.entries] == ["row 4, section Termine", "row 5, section Rezepte"]


def test_csv_language_column_is_used() -> None:
    doc = parse_bytes(b"question,answer,lang\nOpen?,Yes.,de\nAuf?,Ja.,en\n", "x.csv")
    assert [e.language for e in doc.entries] == ["de", "en"]


def test_xlsx_header_below_title_rows_and_several_sheets(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "FAQ"
    ws.append(["Häufige Fragen der Werkstatt"])
    ws.append([])
    ws.append([None, "Stand 2026"])
    ws.append(["Frage", "Antwort"])
    ws.append(["Was kostet ein Ölwechsel?", "Ab 89 Euro."])
    ws.append([None, None])
    ws.append(["Wie lange dauert die Inspektion?", "Drei bis vier Stunden."])
    en = wb.create_sheet("English")
    en.append(["Question", "Answer"])
    en.append(["Do you speak English?", "Yes."])
    notes = wb.create_sheet("Notizen")
    notes.append(["interne Notiz", 42])
    wb.save(tmp_path / "faq.xlsx")
    doc = parse_file(tmp_path / "faq.xlsx")
    assert doc.format == "xlsx"
    assert pairs(doc) == [("Was kostet ein Ölwechsel?", "Ab 89 Euro."),
                          ("Wie lange dauert die Inspektion?", "Drei bis vier Stunden."),
                          ("Do you speak English?", "Yes.")]
    assert [e.location for e in doc.entries] == ["sheet FAQ, row 5", "sheet FAQ, row 7", "sheet English, row 2"]
    assert [e.language for e in doc.entries] == ["de", "de", "en"]
    assert doc.warnings == (
        "sheet “Notizen” was skipped: no question and answer columns (columns: “interne Notiz”, “42”)",)


@pytest.mark.parametrize("payload", [
    [{"question": "Open on Sundays?", "answer": "No."}, {"Question": "Parking?", "Answer": "Yes, free."}],
    {"faq": [{"frage": "Open on Sundays?", "antwort": "No."}, {"F": "Parking?", "A": "Yes, free."}]},
    {"FAQ": [["Open on Sundays?", "No."], ["Parking?", "Yes, free."]]},
    {"Open on Sundays?": "No.", "Parking?": "Yes, free."},
])
def test_json_shapes(payload) -> None:
    doc = parse_bytes(json.dumps(payload).encode(), "faq.json")
    assert doc.format == "json"
    assert pairs(doc) == [("Open on Sundays?", "No."), ("Parking?", "Yes, free.")]
    assert [e.location for e in doc.entries] == ["item 1", "item 2"]


# --- prose fallback ----------------------------------------------------------------------------------------------


def test_prose_is_chunked_by_section_without_cutting_sentences() -> None:
    sentences = [f"Satz Nummer {i} beschreibt die Praxis ausführlich und hat einige Wörter mehr als nötig." for i in
                 range(1, 12)]
    md = "# Über uns\n\n" + " ".join(sentences[:7]) + "\n\n## Team\n\n" + " ".join(sentences[7:]) + \
         " Wir arbeiten z. B. mit Dr. Meier zusammen.\n"
    doc = parse_bytes(md.encode(), "about.md")
    assert all(e.kind == "chunk" for e in doc.entries)
    assert [e.question for e in doc.entries] == ["Über uns", "Über uns", "Über uns > Team", "Über uns > Team"]
    for e in doc.entries:
        assert len(e.answer) <= 600
        assert 2 <= len(split_sentences(e.answer)) <= 4
        assert e.answer.endswith(".")
    joined = " ".join(e.answer for e in doc.entries)
    assert joined == " ".join(sentences) + " Wir arbeiten z. B. mit Dr. Meier zusammen."


def test_prose_without_headings_uses_the_file_name() -> None:
    doc = parse_bytes("Die Werkstatt liegt in München. Wir reparieren alle Marken.".encode(), "ueber_uns.txt")
    assert [(e.question, e.kind, e.language) for e in doc.entries] == [("ueber uns", "chunk", "de")]


def test_content_hash_is_sha256_of_the_raw_bytes(tmp_path: Path) -> None:
    import hashlib

    data = "Frage: A?\nAntwort: B.".encode("utf-16")
    (tmp_path / "f.txt").write_bytes(data)
    doc = parse_file(tmp_path / "f.txt", display_name="Öffnungszeiten.txt")
    assert doc.content_hash == hashlib.sha256(data).hexdigest()
    assert doc.name == "Öffnungszeiten.txt"


def test_subheadings_under_a_question_heading_belong_to_its_answer() -> None:
    md = ("# Anfahrt\n\n## Wie komme ich zur Praxis?\n\n### Mit dem Auto\n\nParken im Hof.\n\n### Mit der Bahn\n\n"
          "U2 bis Eberswalder Straße.\n\n### Zu Fuß\n\n## Öffnungszeiten\n\nWir öffnen um 8 Uhr.\n")
    doc = parse_bytes(md.encode(), "anfahrt.md")
    assert [(e.question, e.answer, e.kind) for e in doc.entries] == [
        ("Wie komme ich zur Praxis?", "Mit dem Auto: Parken im Hof. Mit der Bahn: U2 bis Eberswalder Straße.", "faq"),
        ("Anfahrt > Öffnungszeiten", "Wir öffnen um 8 Uhr.", "chunk"),
    ]


def test_xlsx_numbers_and_dates_read_as_people_write_them(tmp_path: Path) -> None:
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Frage", "Antwort"])
    wb.active.append(["Was kostet der Ölwechsel in Euro?", 89.0])
    wb.active.append(["Ab wann gibt es Winterreifen-Termine?", dt.datetime(2026, 10, 1)])
    wb.save(tmp_path / "f.xlsx")
    assert [e.answer for e in parse_file(tmp_path / "f.xlsx").entries] == ["89", "01.10.2026"]


def test_zip_bomb_office_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import zipfile

    from knowledge.documents import IngestError
    from knowledge.ingest import detect

    assert detect.MAX_UNPACKED_BYTES == 500 * 1024 * 1024
    monkeypatch.setattr(detect, "MAX_UNPACKED_BYTES", 2 * 1024 * 1024)  # same check, a cheaper bomb
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", "")
        z.writestr("word/media/huge.bin", bytes(3 * 1024 * 1024))
    assert len(buf.getvalue()) < 20_000
    with pytest.raises(IngestError, match="unpacks to more than 2 MB"):
        parse_bytes(buf.getvalue(), "bombe.docx")


def test_marker_alone_on_its_line_and_numbered_markers(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    for text in ("Frage:", "Wie lange dauert eine Inspektion?", "Antwort:", "Drei bis vier Stunden.",
                 "Q1. Do you lend cars?", "A1. Yes, two of them."):
        d.add_paragraph(text)
    d.save(tmp_path / "f.docx")
    assert pairs(parse_file(tmp_path / "f.docx")) == [
        ("Wie lange dauert eine Inspektion?", "Drei bis vier Stunden."), ("Do you lend cars?", "Yes, two of them.")]


def test_pdf_short_answer_lines_are_not_taken_for_headings(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "adresse.pdf", ["Wo ist die Praxis?\n\nKastanienallee 41\n\n10435 Berlin\n\n"
                                               "Wie ist die Telefonnummer?\n\nTelefon 030 5555 0120"])
    assert pairs(parse_file(path)) == [("Wo ist die Praxis?", "Kastanienallee 41 10435 Berlin"),
                                       ("Wie ist die Telefonnummer?", "Telefon 030 5555 0120")]


def test_html_accordion_buttons_carry_questions() -> None:
    html = """<div class="accordion"><h3><button aria-expanded="false">Wann ist geöffnet?</button></h3>
    <div class="panel"><p>Ab 8 Uhr.</p></div>
    <button class="accordion">Gibt es Parkplätze?</button><div class="panel">Ja, im Hof.</div>
    <button>Alle Cookies akzeptieren</button></div>"""
    assert pairs(parse_bytes(html.encode(), "faq.html")) == [("Wann ist geöffnet?", "Ab 8 Uhr."),
                                                             ("Gibt es Parkplätze?", "Ja, im Hof.")]


def test_a_sentence_longer_than_a_chunk_is_kept_whole() -> None:
    long_sentence = "Die Praxis " + ", ".join(f"bietet Leistung {i}" for i in range(60)) + "."
    assert len(long_sentence) > 600
    doc = parse_bytes(f"# Leistungen\n\nKurz vorab. {long_sentence} Danach mehr.\n".encode(), "l.md")
    assert [e.answer for e in doc.entries] == ["Kurz vorab.", long_sentence, "Danach mehr."]


def test_pdf_page_headers_footers_and_numbers_stay_out_of_answers(tmp_path: Path) -> None:
    pages = [f"Frage {i}: Wie lautet Regel Nummer {i}?\n\nAntwort: Regel {i} gilt für alle Patientinnen und Patienten."
             for i in range(1, 5)]
    path = make_pdf(tmp_path / "regeln.pdf", pages, header="Praxis Dr. Berger · Hausordnung",
                    footer="Seite {page} von {pages}")
    doc = parse_file(path)
    assert pairs(doc) == [(f"Wie lautet Regel Nummer {i}?", f"Regel {i} gilt für alle Patientinnen und Patienten.")
                          for i in range(1, 5)]
    assert [e.location for e in doc.entries] == ["page 1", "page 2", "page 3", "page 4"]
    sections = make_pdf(tmp_path / "abschnitte.pdf", [f"# Abschnitt {i}\n\n{p}" for i, p in enumerate(pages, 1)],
                        footer="Praxis Dr. Berger · Seite {page}")
    assert [e.location for e in parse_file(sections).entries] == [f"page {i}, section Abschnitt {i}" for i in range(1, 5)]
    two = make_pdf(tmp_path / "kurz.pdf", pages[:2], footer="{page}")  # bare page numbers, even on two pages
    assert pairs(parse_file(two))[1][1] == "Regel 2 gilt für alle Patientinnen und Patienten."


def test_json_grouped_by_category() -> None:
    payload = {"faq": [
        {"kategorie": "Preise", "fragen": [{"frage": "Was kostet ein Ölwechsel?", "antwort": "Ab 89 Euro."}]},
        {"category": "Service", "questions": [{"q": "Do you lend cars?", "a": "Yes, two."},
                                              {"q": "Do you store tyres?", "a": "Yes, 59 euros a season."}]},
    ]}
    doc = parse_bytes(json.dumps(payload).encode(), "faq.json")
    assert [(e.question, e.location) for e in doc.entries] == [
        ("Was kostet ein Ölwechsel?", "item 1.1, section Preise"), ("Do you lend cars?", "item 2.1, section Service"),
        ("Do you store tyres?", "item 2.2, section Service")]


def test_txt_with_markdown_bold_questions() -> None:
    doc = parse_bytes("**Gibt es Parkplätze?**\nJa, im Hof.\n\n__Haben Sie WLAN?__\nJa.\n".encode(), "notizen.txt")
    assert pairs(doc) == [("Gibt es Parkplätze?", "Ja, im Hof."), ("Haben Sie WLAN?", "Ja.")]


def test_a_table_under_a_question_is_its_answer() -> None:
    md = ("## Was kostet eine Bescheinigung?\n\n| Leistung | Preis |\n|---|---|\n| Attest | 15 € |\n"
          "| Reiserücktritt | 20 € |\n\n## Preise\n\n| Leistung | Preis |\n|---|---|\n| Kopie | 0 € |\n| Fax | 1 € |\n")
    doc = parse_bytes(md.encode(), "preise.md")
    assert [(e.question, e.answer, e.kind) for e in doc.entries] == [
        ("Was kostet eine Bescheinigung?", "Attest: 15 €. Reiserücktritt: 20 €.", "faq"),
        ("Preise", "Kopie: 0 €. Fax: 1 €.", "chunk")]


def test_display_name_without_extension_uses_the_stored_files_extension(tmp_path: Path) -> None:
    (tmp_path / "upload-1234.csv").write_text("Frage;Antwort\nWann?;Jetzt.\n", encoding="utf-8")
    doc = parse_file(tmp_path / "upload-1234.csv", display_name="Preisliste")
    assert (doc.name, doc.format, len(doc.entries)) == ("Preisliste", "csv", 1)


def test_question_run_into_the_previous_answer_by_the_layout_is_split_off() -> None:
    from knowledge.ingest.blocks import Block
    from knowledge.ingest.structure import build_entries

    blocks = [Block("para", "Wie bestelle ich ein Rezept?", location="page 1"),
              Block("para", "Telefonisch oder per E-Mail, mit Name und Stärke. Wie lange dauert es, bis ich das "
                            "Rezept abholen kann?", location="page 1", joined=True),
              Block("para", "Zwei Werktage.", location="page 1")]
    assert [(e.question, e.answer) for e in build_entries(blocks, "t")] == [
        ("Wie bestelle ich ein Rezept?", "Telefonisch oder per E-Mail, mit Name und Stärke."),
        ("Wie lange dauert es, bis ich das Rezept abholen kann?", "Zwei Werktage.")]
    # the same paragraph in a Word/HTML document is the author's own paragraph and stays whole
    blocks[1].joined = False
    assert len(build_entries(blocks, "t")) == 1


def test_txt_question_line_right_after_an_answer() -> None:
    doc = parse_bytes("Gibt es Parkplätze?\nJa, im Hof.\nHaben Sie WLAN?\nJa, kostenlos.\n".encode(), "f.txt")
    assert pairs(doc) == [("Gibt es Parkplätze?", "Ja, im Hof."), ("Haben Sie WLAN?", "Ja, kostenlos.")]
