"""CSV/TSV and XLSX: one row per question/answer pair, columns found by their header names.

A spreadsheet is data, not prose: without recognisable question/answer columns we refuse it and say which
headers we found, rather than guessing which column holds what.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import zipfile
import zlib
from collections import Counter

from knowledge.documents import IngestError, ParsedEntry
from knowledge.ingest.columns import find_qa_columns, headers_found, looks_like_headerless_qa
from knowledge.ingest.text import clean_inline, detect_language

log = logging.getLogger(__name__)

_HINT = ("Please give one column the heading “Frage” (or “Question”) and one the heading “Antwort” (or “Answer”), "
         "then upload the file again.")


def csv_entries(text: str, filename: str) -> list[ParsedEntry]:
    rows = _csv_rows(text)
    if not any(any(c.strip() for c in row) for row in rows):
        raise IngestError(filename, "the file contains no rows.")
    entries = _table_entries(rows, lambda i: f"row {i + 1}")
    if entries is None:
        raise IngestError(filename,
                          f"no question and answer columns found. Columns found: {_found(rows)}. {_HINT}")
    return entries


def _csv_rows(text: str) -> list[list[str]]:
    """Rows of a CSV/TSV in Excel's quoting, with the delimiter that gives the most consistent columns.

    csv.Sniffer guesses quoting rules too and gets them wrong on real exports (doubled quotes inside answers), so
    only the delimiter is chosen here: the candidate whose first records agree best on a column count above one.
    """
    csv.field_size_limit(10 * 1024 * 1024)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    sample = text[:50000]
    best, best_score = ";", -1.0
    for delimiter in ";,\t|":
        try:
            records = list(itertools.islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 50))
        except csv.Error:
            continue
        counts = Counter(len(r) for r in records if any(c.strip() for c in r))
        if not counts:
            continue
        width, hits = counts.most_common(1)[0]
        score = (hits / sum(counts.values())) * (1 if width > 1 else 0) + min(width, 10) / 1000
        if score > best_score:
            best, best_score = delimiter, score
    reader = csv.reader(io.StringIO(text), delimiter=best)
    try:
        return list(reader)  # blank rows kept: "row 14" is the 14th row of the file
    except csv.Error as exc:
        log.info("csv unreadable near line %s: %s", reader.line_num, exc)
        raise IngestError("", f"the CSV file is broken near line {reader.line_num} (for example a quote that is "
                              "never closed). Please open it in Excel, save it again as CSV and upload it again.") \
            from None


def xlsx_entries(data: bytes, filename: str) -> tuple[list[ParsedEntry], list[str]]:
    """Entries of every sheet with question/answer columns; sheets without them become warnings."""
    try:
        return _xlsx_entries(data, filename)
    except IngestError:  # a ValueError too: must pass through the "damaged" handler below untouched
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, KeyError, ValueError, TypeError,
            AttributeError, IndexError, OSError) as exc:
        log.info("xlsx %s unreadable: %r", filename, exc)
        raise IngestError(filename, "the Excel file is damaged or not a real .xlsx. Please open it in Excel, save "
                                    "it again as .xlsx and upload it again.") from None
    except Exception as exc:  # openpyxl lets lxml/ElementTree parse errors through on broken XML
        if type(exc).__name__ in ("ParseError", "XMLSyntaxError"):
            raise IngestError(filename, "the Excel file is damaged. Please open it in Excel, save it again as .xlsx "
                                        "and upload it again.") from None
        raise


def _xlsx_entries(data: bytes, filename: str) -> tuple[list[ParsedEntry], list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    entries: list[ParsedEntry] = []
    warnings: list[str] = []
    skipped: list[tuple[str, str]] = []
    try:
        for sheet in workbook.worksheets:
            rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            rows = [r for r in rows if any(c.strip() for c in r)]
            if not rows:
                continue
            found = _table_entries(rows, lambda i, s=sheet.title: f"sheet {s}, row {i + 1}", _excel_rows(sheet))
            if found is None:
                skipped.append((sheet.title, _found(rows)))
            else:
                entries.extend(found)
    finally:
        workbook.close()
    if not entries:
        if skipped:
            listing = "; ".join(f"“{title}” (columns: {found})" for title, found in skipped)
            raise IngestError(filename, f"no question and answer columns found in any sheet: {listing}. {_HINT}")
        raise IngestError(filename, "the Excel file is empty.")
    warnings.extend(f"sheet “{title}” was skipped: no question and answer columns (columns: {found})"
                    for title, found in skipped)
    return entries, warnings


def _cell_text(value) -> str:
    """Cell values as a person reads them: 89 not 89.0, 01.03.2026 not 2026-03-01 00:00:00."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%d.%m.%Y %H:%M") if (value.hour, value.minute) != (0, 0) else value.strftime("%d.%m.%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def _excel_rows(sheet) -> list[int] | None:
    """Real Excel row numbers of the non-empty rows (so "row 14" is the row the user sees in Excel)."""
    numbers = []
    try:
        for row in sheet.iter_rows():
            cells = [c for c in row if getattr(c, "value", None) not in (None, "")]
            if cells and any(str(c.value).strip() for c in cells):
                numbers.append(cells[0].row)
    except (AttributeError, TypeError):
        return None
    return numbers


def _found(rows: list[list[str]]) -> str:
    headers = headers_found(rows)
    return ", ".join(f"“{h[:40]}”" for h in headers[:12]) if headers else "none"


def _table_entries(rows: list[list[str]], where, row_numbers: list[int] | None = None) -> list[ParsedEntry] | None:
    def location(i: int) -> str:
        if row_numbers is not None and i < len(row_numbers):
            return where(row_numbers[i] - 1)
        return where(i)

    cols = find_qa_columns(rows)
    if cols is None:
        if not looks_like_headerless_qa(rows):
            return None
        pairs = [(i, r[0], r[1], "", "") for i, r in enumerate(rows) if len(r) >= 2]
    else:
        get = lambda r, c: r[c] if c is not None and c < len(r) else ""  # noqa: E731
        pairs = [(i, get(r, cols.question), get(r, cols.answer), get(r, cols.category), get(r, cols.language))
                 for i, r in enumerate(rows) if i > cols.header_row]
    entries = []
    for i, q, a, category, lang in pairs:
        q, a = clean_inline(q), clean_inline(a)
        if not q or not a:
            continue
        lang = lang.strip().lower()[:2]
        loc = location(i) + (f", section {clean_inline(category)}" if category.strip() else "")
        entries.append(ParsedEntry(q, a, loc, lang if lang in ("de", "en") else detect_language(f"{q} {a}")))
    return entries
