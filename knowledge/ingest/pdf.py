"""PDF: the text layer via pypdf, page by page, with wrapped lines joined back into paragraphs.

A PDF has no paragraphs or headings, only positioned lines. We rebuild paragraphs from line shapes: a blank line,
a question line, a Q/A marker, a numbered item or a short line after a sentence end starts a new one; a short line
without final punctuation followed by a capitalised line reads as a heading.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import zlib

from knowledge.documents import IngestError
from knowledge.ingest.alternates import is_alternates_line
from knowledge.ingest.blocks import Block
from knowledge.ingest.text import STARTS_BLOCK, clean_lines, join_wrapped_lines

log = logging.getLogger(__name__)

_STARTS_BLOCK = STARTS_BLOCK
_MIN_TEXT_CHARS = 20  # a whole document with fewer visible characters has no usable text layer


def read_blocks(data: bytes, filename: str) -> list[Block]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns loudly about harmless quirks
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")  # "protected" PDFs with only an owner password open with an empty one
            except (DependencyError, NotImplementedError):
                ok = 0
            if not ok:
                raise IngestError(filename, "the PDF is password-protected. Please save or print it again without "
                                            "a password (e.g. “Print to PDF”) and upload that copy.")
        pages = reader.pages
        texts = []
        for page in pages:
            texts.append(page.extract_text() or "")
    except IngestError:
        raise
    except FileNotDecryptedError:
        raise IngestError(filename, "the PDF is password-protected. Please save it again without a password "
                                    "and upload that copy.") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError,
            AssertionError, ZeroDivisionError, OverflowError, UnicodeError, NotImplementedError, zlib.error,
            struct.error) as exc:
        log.info("pdf %s unreadable: %r", filename, exc)
        raise IngestError(filename, "the PDF is damaged or incomplete and cannot be read. Please open it, save it "
                                    "again (or export it once more from the original program) and upload it again.") \
            from None
    if not texts:
        raise IngestError(filename, "the PDF has no pages.")
    if sum(len(t.strip()) for t in texts) < _MIN_TEXT_CHARS:
        raise IngestError(filename, "the PDF contains no text layer – it looks scanned; export it with text or "
                                    "upload a DOCX.")
    blocks: list[Block] = []
    furniture = _running_lines(texts)
    for number, text in enumerate(texts, start=1):
        blocks.extend(_page_blocks(text, f"page {number}", furniture))
    return blocks


_PAGE_NUMBER = re.compile(r"^(?:[-–—(\[]\s*)?(?:(?:seite|page|s\.|p\.)\s*)?\d{1,4}(?:\s*(?:/|von|of)\s*\d{1,4})?"
                          r"(?:\s*[-–—)\]])?$", re.IGNORECASE)
_PAGE_REF = re.compile(r"(?:seite|page|s\.|p\.)\s*\d{1,4}(?:\s*(?:/|von|of)\s*\d{1,4})?", re.IGNORECASE)


def _furniture_key(line: str) -> str:
    """A header/footer line without its page reference: "Praxis Berger · Seite 2 von 4" -> "praxis berger"."""
    return _PAGE_REF.sub("", line).strip(" ·|•-–—,").lower()


def _running_lines(texts: list[str]) -> set[str]:
    """Headers and footers: the same line (page references aside) at the top or bottom of most pages (3 or more).

    They would otherwise end up inside answers ("… kostet 3 Euro. Praxis Dr. Berger · Seite 2 von 4"). Lines that
    end a sentence, ask a question or carry a Q/A marker are content and never count.
    """
    if len(texts) < 3:
        return set()
    counts: dict[str, int] = {}
    for text in texts:
        lines = [line for line in clean_lines(text) if line]
        edges = [line for line in lines[:2] + lines[-2:]
                 if line[-1:] not in ".!?:" and not STARTS_BLOCK.match(line)]
        for key in {_furniture_key(line) for line in edges} - {""}:
            counts[key] = counts.get(key, 0) + 1
    return {key for key, n in counts.items() if n >= max(3, 0.6 * len(texts))}


def _is_furniture(line: str, furniture: set[str]) -> bool:
    if _PAGE_NUMBER.match(line):
        return True
    key = _furniture_key(line)
    return key in furniture or (not key and bool(_PAGE_REF.search(line)))


def _page_blocks(text: str, location: str, furniture: set[str] = frozenset()) -> list[Block]:
    lines = [line for line in clean_lines(text) if not (line and _is_furniture(line, furniture))]
    widths = sorted(len(line) for line in lines if line)
    if not widths:
        return []
    full = widths[int(len(widths) * 0.9)] if len(widths) > 3 else max(widths)  # a typical full line's length
    blocks: list[Block] = []
    current: list[str] = []

    def flush(kind: str = "para", level: int = 0) -> None:
        if current:
            blocks.append(Block(kind, join_wrapped_lines(current), level=level, location=location,
                                guessed=kind == "heading", joined=len(current) > 1))
            current.clear()

    for i, line in enumerate(lines):
        if not line:
            flush()
            continue
        nxt = next((n for n in lines[i + 1:] if n), "")
        listing = bool(current) and is_alternates_line(current[0])  # "Auch gefragt: …?; …?" wraps over lines
        if _STARTS_BLOCK.match(line) or (not listing and
                current and line.endswith("?") and (current[-1][-1:] in ".!:" or len(current[-1]) < 0.8 * full)):
            flush()  # a marker, a list item, or a question line after a finished or short line starts a new block
        if not current and _is_heading(line, nxt, full):
            current.append(line)
            flush("heading", 2)
            continue
        current.append(line)
        ends_sentence = line[-1:] in ".!?:" or line.endswith((".)", ".“", ".\""))
        short = len(line) < 0.6 * full and full >= 40  # a clearly short line ends its paragraph
        if line.endswith("?") or (ends_sentence and len(line) < 0.8 * full) or short:
            flush()
    flush()
    return blocks


def _is_heading(line: str, nxt: str, full: int) -> bool:
    """Short, no closing punctuation, not a list item, and text starting with a capital follows."""
    return (
        len(line) <= min(70, 0.75 * full if full > 40 else 70)
        and line[-1:] not in ".,;:!?-–"
        and not _STARTS_BLOCK.match(line)
        and line[:1].isupper()
        and bool(nxt) and (nxt[:1].isupper() or nxt[:1].isdigit())
        and len(line.split()) <= 8
    )
