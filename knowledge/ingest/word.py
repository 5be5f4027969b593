"""DOCX via python-docx: paragraphs and tables in document order, with heading levels, bold and list numbering."""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib

from knowledge.documents import IngestError
from knowledge.ingest.blocks import Block

log = logging.getLogger(__name__)

_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|kop)\s*(\d)$", re.IGNORECASE)


def read_blocks(data: bytes, filename: str) -> list[Block]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
        blocks: list[Block] = []
        for child in body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                block = _paragraph(Paragraph(child, document))
                if block:
                    blocks.append(block)
            elif tag == "tbl":
                rows = _table_rows(Table(child, document))
                if rows:
                    blocks.append(Block("table", rows=rows))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, KeyError, ValueError, AttributeError,
            TypeError, OSError) as exc:
        log.info("docx %s unreadable: %r", filename, exc)
        raise IngestError(filename, "the Word file is damaged or not a real .docx. Please open it in Word, "
                                    "save it again as .docx and upload it again.") from None
    except Exception as exc:  # lxml raises its own XMLSyntaxError family on broken XML inside the package
        if type(exc).__module__.startswith("lxml"):
            raise IngestError(filename, "the Word file is damaged. Please open it in Word, save it again as .docx "
                                        "and upload it again.") from None
        raise
    return blocks


def _paragraph(p) -> Block | None:
    text = p.text
    if not text.strip():
        return None
    style = (p.style.name if p.style is not None else "") or ""
    m = _HEADING_STYLE.match(style.strip())
    if m:
        return Block("heading", text, level=int(m.group(1)))
    if style.lower() in ("title", "titel"):
        return Block("heading", text, level=1)
    runs = [r for r in p.runs if r.text.strip()]
    bold = [_is_bold(r, p) for r in runs]
    numbered = "list number" in style.lower() or "liste nummer" in style.lower() or _has_numbering(p)
    lead = ""
    if runs and bold[0] and not all(bold) and _leading(bold):
        for run in p.runs:
            if run.text.strip() and not _is_bold(run, p):
                break
            lead += run.text
    return Block("para", text, bold=bool(runs) and all(bold), lead=lead, numbered=numbered)


def _leading(bold: list[bool]) -> bool:
    """True when the bold runs are exactly a prefix of the paragraph."""
    seen_plain = False
    for b in bold:
        if not b:
            seen_plain = True
        elif seen_plain:
            return False
    return True


def _is_bold(run, paragraph) -> bool:
    if run.bold is not None:
        return bool(run.bold)
    style = run.style
    while style is not None:
        if style.font.bold is not None:
            return bool(style.font.bold)
        style = style.base_style
    style = paragraph.style
    while style is not None:
        if style.font.bold is not None:
            return bool(style.font.bold)
        style = style.base_style
    return False


def _has_numbering(p) -> bool:
    ppr = p._p.pPr
    return ppr is not None and ppr.numPr is not None and "bullet" not in (p.style.name or "").lower()


def _table_rows(table) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell appears once per grid column it spans
                continue
            previous = cell._tc
            cells.append("\n".join(p.text for p in cell.paragraphs))
        if any(c.strip() for c in cells):
            rows.append(cells)
    return rows
