"""Bad input: every case ends in an IngestError whose message says what is wrong in plain words."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pypdf import PdfWriter

import knowledge.ingest as ingest
from evals.fixtures import make_pdf
from knowledge.documents import IngestError, IngestLimits
from knowledge.ingest import parse_bytes, parse_file

DEMO = Path(__file__).resolve().parents[2] / "bot" / "demo"


def _error(data: bytes, name: str, **kwargs) -> IngestError:
    with pytest.raises(IngestError) as info:
        parse_bytes(data, name, **kwargs)
    assert info.value.filename == name
    assert "Traceback" not in str(info.value)
    return info.value


@pytest.fixture(scope="module")
def text_pdf(tmp_path_factory) -> bytes:
    path = make_pdf(tmp_path_factory.mktemp("pdf") / "faq.pdf",
                    ["# Parken\n\nWo kann ich parken?\n\nIm Hof stehen vier Parkplätze.",
                     "Ist die Praxis barrierefrei?\n\nJa, es gibt einen Aufzug."])
    return path.read_bytes()


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "leer.docx").write_bytes(b"")
    with pytest.raises(IngestError, match="the file is empty"):
        parse_file(tmp_path / "leer.docx")
    assert "only blank space" in _error(b"  \n\t\r\n ", "leer.txt").message


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        parse_file(tmp_path / "nope.pdf")
    with pytest.raises(IngestError, match="folder"):
        parse_file(tmp_path)


def test_encrypted_pdf(text_pdf: bytes) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(text_pdf))
    writer.encrypt("geheim", algorithm="AES-256")
    buf = io.BytesIO()
    writer.write(buf)
    error = _error(buf.getvalue(), "geschuetzt.pdf")
    assert "password-protected" in error.message


def test_pdf_with_owner_password_only_is_read(text_pdf: bytes) -> None:
    """Permission-only protection (empty user password) is common and must not stop an upload."""
    writer = PdfWriter(clone_from=io.BytesIO(text_pdf))
    writer.encrypt("", owner_password="chef", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    doc = parse_bytes(buf.getvalue(), "rechte.pdf")
    assert [e.question for e in doc.entries] == ["Wo kann ich parken?", "Ist die Praxis barrierefrei?"]


@pytest.mark.parametrize("cut", [200, 0.4])
def test_corrupt_pdf(text_pdf: bytes, cut) -> None:
    data = text_pdf[: cut if isinstance(cut, int) else int(len(text_pdf) * cut)]
    assert "damaged or incomplete" in _error(data, "kaputt.pdf").message


def test_pdf_header_with_garbage() -> None:
    assert "damaged" in _error(b"%PDF-1.7\n" + bytes(range(256)) * 40, "muell.pdf").message


def test_scanned_pdf_without_text_layer() -> None:
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 800), 255)
    ImageDraw.Draw(image).text((40, 40), "Wo kann ich parken? Im Hof.", fill=0)
    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.image(image, x=10, y=10, w=180)
    error = _error(bytes(pdf.output()), "scan.pdf")
    assert error.message == ("the PDF contains no text layer – it looks scanned; export it with text or upload a "
                             "DOCX.")


def test_not_a_pdf_named_pdf() -> None:
    assert "is not a PDF file" in _error(b"Frage: Was?\nAntwort: Nichts.", "brief.pdf").message


@pytest.mark.parametrize(("data", "expected"), [
    (os.urandom(4000) + b"\x00", "binary data, not text"),
    (b"\x89PNG\r\n\x1a\n" + bytes(300), "a PNG image (a scan or photo?), not text"),
    (b"\xff\xd8\xff\xe0" + bytes(300), "a JPEG image"),
    (b"\x7fELF" + bytes(300), "a program file"),
])
def test_binary_named_txt(data: bytes, expected: str) -> None:
    error = _error(data, "faq.txt")
    assert expected in error.message
    assert "named “faq.txt”" in error.message


def test_pdf_named_txt_is_read_with_a_warning(text_pdf: bytes) -> None:
    doc = parse_bytes(text_pdf, "faq.txt")
    assert doc.format == "pdf"
    assert doc.warnings == ("the file is named .txt but is a PDF; it was read as PDF.",)


def test_fifty_megabyte_file_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "riesig.pdf"
    with big.open("wb") as f:  # sparse: 50 MB on paper, nothing on disk
        f.truncate(50 * 1024 * 1024)

    def no_reading(self):  # the size check must come first: reading 50 MB is already the damage
        raise AssertionError("file was read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(IngestError) as info:
        parse_file(big)
    assert info.value.message.startswith("the file is 50 MB; the limit is 20 MB.")
    with pytest.raises(IngestError, match="the limit is 60 MB"):
        ingest.check_size(61 * 1024 * 1024, "x.pdf", IngestLimits(max_file_bytes=60 * 1024 * 1024))
    ingest.check_size(50 * 1024 * 1024, "x.pdf", IngestLimits(max_file_bytes=60 * 1024 * 1024))


def test_size_limit_applies_to_uploaded_bytes() -> None:
    error = _error(b"Frage: A?\nAntwort: B.\n" * 100, "faq.txt", limits=IngestLimits(max_file_bytes=2048))
    assert error.message.startswith("the file is 2.1 KB; the limit is 2 KB.")


def test_csv_without_question_answer_columns_names_the_headers() -> None:
    error = _error("Name;Preis;Einheit\nÖlwechsel;89;€\nReifen;35;€\n".encode(), "preise.csv")
    assert "no question and answer columns found" in error.message
    assert "Columns found: “Name”, “Preis”, “Einheit”." in error.message
    assert "“Frage”" in error.message and "“Answer”" in error.message


def test_xlsx_without_question_answer_columns(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Preise"
    wb.active.append(["Leistung", "Preis"])
    wb.active.append(["Ölwechsel", 89])
    wb.save(tmp_path / "p.xlsx")
    with pytest.raises(IngestError) as info:
        parse_file(tmp_path / "p.xlsx")
    assert "in any sheet: “Preise” (columns: “Leistung”, “Preis”)" in info.value.message


def test_html_with_only_scripts_and_navigation_has_zero_entries() -> None:
    html = b"<html><head><script>var faq = 'Wann?';</script></head><body><nav>Start | Kontakt</nav>" \
           b"<script>document.write('Frage: x?')</script></body></html>"
    error = _error(html, "leer.html")
    assert error.message.startswith("no questions, answers or text found in the document")


def test_document_with_zero_entries_json() -> None:
    assert "none of the 2 items has both a question and an answer" in _error(
        b'[{"frage": "Wann?"}, {"antwort": "Nie."}]', "x.json").message


def test_more_entries_than_the_limit() -> None:
    csv = "Frage,Antwort\n" + "".join(f"Frage {i}?,Antwort {i}.\n" for i in range(12))
    error = _error(csv.encode(), "viel.csv", limits=IngestLimits(max_entries_per_document=10))
    assert error.message == ("the document has 12 entries; the limit is 10 per document. Please split it into "
                             "several files.")
    assert len(parse_bytes(csv.encode(), "viel.csv", limits=IngestLimits(max_entries_per_document=12)).entries) == 12


@pytest.mark.parametrize(("data", "name", "expected"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "alt.doc", "old Word or Excel file (.doc/.xls)"),
    (b"PK\x03\x04 not really a zip", "kaputt.docx", "the Word file is damaged or not a real .docx"),
    (b"PK\x03\x04 not really a zip", "kaputt.xlsx", "the Excel file is damaged or not a real .xlsx"),
    (b"Frage;Antwort\n", "tabelle.xlsx", "is not a XLSX file"),
    (b'[{"frage": "x?", ', "faq.json", "the file is not valid JSON (line 1, column 18"),
    (b'{"titel": "FAQ"}', "faq.json", "the JSON file has no question/answer list"),
])
def test_other_unreadable_files(data: bytes, name: str, expected: str) -> None:
    assert expected in _error(data, name).message


def test_zip_that_is_not_office(tmp_path: Path) -> None:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("faq.txt", "Frage: x?")
    assert "this is a ZIP archive, which is not supported" in _error(buf.getvalue(), "faq.zip").message


def test_an_unexpected_parser_failure_still_reads_as_words(monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledge.ingest import plaintext

    def broken(text):
        raise RuntimeError("internal bug")

    monkeypatch.setattr(plaintext, "read_blocks", broken)
    error = _error(b"Frage: Wann?\nAntwort: Jetzt.", "faq.txt")
    assert "could not be read" in error.message and "internal bug" not in error.message


def test_a_failed_file_does_not_disturb_the_next() -> None:
    _error(b"", "a.txt")
    doc = parse_file(DEMO / "kfz-huber" / "preise.txt")
    assert len([e for e in doc.entries if e.kind == "faq"]) == 6


@pytest.mark.parametrize("relpath", ["praxis-berger/Rezepte_und_Ueberweisungen.docx",
                                     "praxis-berger/Impfungen_und_IGeL.xlsx", "keller-wright/Directions.pdf"])
def test_damaged_office_and_pdf_files_get_a_specific_message(relpath: str) -> None:
    """Random byte damage and truncation: always a specific plain-words error (or a successful read), never the
    catch-all "unexpected content" message, which would mean a parser exception we did not anticipate."""
    import random

    rng = random.Random(relpath)
    original = (DEMO / relpath).read_bytes()
    for _ in range(25):
        data = bytearray(original)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        try:
            parse_bytes(bytes(data), Path(relpath).name)
        except IngestError as error:
            assert "unexpected content" not in error.message, error.message


def test_unsupported_binary_format_by_its_own_name() -> None:
    error = _error(b"{\\rtf1\\ansi Frage: Wann?}", "faq.rtf")
    assert error.message == ("this is an RTF document, which is not supported. Please upload PDF, DOCX, XLSX, CSV, "
                             "Markdown, TXT, HTML or JSON.")


def test_image_named_pdf_says_what_it_is() -> None:
    assert _error(b"\xff\xd8\xff\xe0" + bytes(100), "scan.pdf").message == (
        "the file is named .pdf but is not a PDF file (it is a JPEG image). Please export it again and upload it.")
