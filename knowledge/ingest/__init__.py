"""Ingestion: turn one uploaded file into a :class:`~knowledge.documents.ParsedDocument` or a plain-words error.

Public API::

    parse_file(path, *, display_name=None, limits=IngestLimits()) -> ParsedDocument
    parse_bytes(data, filename, *, limits=IngestLimits()) -> ParsedDocument
    check_size(size, filename, limits=IngestLimits()) -> None   # before reading an upload
    SUPPORTED_EXTENSIONS

Every failure is an :class:`~knowledge.documents.IngestError` whose message an office worker can act on; no parser
exception or stack trace reaches the user.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path, PurePath

from knowledge.ingest.alternates import extract_alternates
from knowledge.documents import IngestError, IngestLimits, ParsedDocument, ParsedEntry
from knowledge.ingest import detect, structure
from knowledge.ingest.text import decode_text, looks_binary

__all__ = ["parse_file", "parse_bytes", "check_size", "SUPPORTED_EXTENSIONS", "IngestError", "IngestLimits",
           "ParsedDocument", "ParsedEntry"]

log = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted(detect.EXTENSIONS))


def _human_size(size: int) -> str:
    """50 MB, 20 MB, 1.5 MB, 2.2 KB: how people talk about file sizes."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def check_size(size: int, filename: str, limits: IngestLimits = IngestLimits()) -> None:
    """Refuse empty and oversized files before anyone reads them (uploads can call this with Content-Length)."""
    if size == 0:
        raise IngestError(filename, "the file is empty.")
    if size > limits.max_file_bytes:
        limit = _human_size(limits.max_file_bytes)
        raise IngestError(filename, f"the file is {_human_size(size)}; the limit is {limit}. "
                                    "Please split it into smaller documents or remove images, then upload again.")


def parse_file(path: Path, *, display_name: str | None = None, limits: IngestLimits = IngestLimits()) -> ParsedDocument:
    """Parse a file on disk; its size is checked before a single byte is read."""
    path = Path(path)
    name = display_name or path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise IngestError(name, "the file does not exist.") from None
    except OSError as exc:
        raise IngestError(name, f"the file cannot be opened ({exc.strerror or exc}).") from None
    if path.is_dir():
        raise IngestError(name, "this is a folder, not a file.")
    check_size(size, name, limits)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(name, f"the file cannot be read ({exc.strerror or exc}).") from None
    # a display name without extension ("Preisliste") still lets the stored file's extension hint at the format
    hint = name if detect.extension_format(name) else path.name
    return _parse_document(data, name, limits, hint)


def parse_bytes(data: bytes, filename: str, *, limits: IngestLimits = IngestLimits()) -> ParsedDocument:
    """Parse an uploaded file's bytes; ``filename`` is what the user called it (its extension is a hint only)."""
    return _parse_document(data, filename, limits, filename)


def _parse_document(data: bytes, filename: str, limits: IngestLimits, hint_name: str) -> ParsedDocument:
    filename = PurePath(filename).name or "document"
    check_size(len(data), filename, limits)
    try:
        fmt, entries, warnings = _parse(data, filename, PurePath(hint_name).name)
    except IngestError as exc:
        if not exc.filename:
            raise IngestError(filename, exc.message) from None
        raise
    except RecursionError:
        raise IngestError(filename, "the document is nested too deeply to be read.") from None
    except Exception:  # a parser bug must still reach the user as words, and us as a log with the traceback
        log.exception("unexpected error while parsing %s", filename)
        raise IngestError(filename, "the document could not be read (unexpected content). Please save it again, "
                                    "e.g. as DOCX or PDF, and upload it again.") from None
    entries = [extract_alternates(e) for e in structure.fill_language(entries)]
    if not entries:
        raise IngestError(filename, "no questions, answers or text found in the document. Please check that it is "
                                    "the right file.")
    if len(entries) > limits.max_entries_per_document:
        raise IngestError(filename, f"the document has {len(entries):,} entries; the limit is "
                                    f"{limits.max_entries_per_document:,} per document. Please split it into "
                                    "several files.")
    return ParsedDocument(name=filename, content_hash=hashlib.sha256(data).hexdigest(), format=fmt,
                          entries=tuple(entries), warnings=tuple(warnings))


def _parse(data: bytes, filename: str, hint_name: str) -> tuple[str, list[ParsedEntry], list[str]]:
    by_name = detect.extension_format(hint_name)
    head = data[:2048]
    warnings: list[str] = []
    container = detect.sniff_binary(head)
    fmt: str | None
    if container == "pdf":
        fmt = "pdf"
    elif container == "zip":
        fmt = detect.zip_kind(data)
        if fmt not in ("docx", "xlsx"):
            if by_name in ("docx", "xlsx"):
                word = "Word" if by_name == "docx" else "Excel"
                raise IngestError(filename, f"the {word} file is damaged or not a real .{by_name}. Please open it, "
                                            f"save it again as .{by_name} and upload it again.")
            kind = {"pptx": "a PowerPoint file", "odf": "an OpenDocument file"}.get(fmt or "", "a ZIP archive")
            raise IngestError(filename, f"this is {kind}, which is not supported. Please upload {detect.SUPPORTED}.")
    elif container == "ole":
        raise IngestError(filename, "this is an old Word or Excel file (.doc/.xls). Please save it as .docx or "
                                    ".xlsx and upload it again.")
    else:
        fmt = None
    if fmt in ("docx", "xlsx") and detect.unpacked_size(data) > detect.MAX_UNPACKED_BYTES:
        raise IngestError(filename, f"the file unpacks to more than {_human_size(detect.MAX_UNPACKED_BYTES)}, "
                                    "far more than any FAQ document. Please check the file or split it.")
    if fmt is not None:
        if by_name and by_name != fmt:
            warnings.append(f"the file is named .{PurePath(hint_name).suffix.lstrip('.')} but is a {fmt.upper()}; "
                            f"it was read as {fmt.upper()}.")
        return fmt, _parse_binary(fmt, data, filename, warnings), warnings

    foreign = detect.foreign_binary(head)
    if by_name in ("pdf", "docx", "xlsx"):
        content = f"it is {foreign}" if foreign else "its content is something else or damaged"
        raise IngestError(filename, f"the file is named .{by_name} but is not a {by_name.upper()} file ({content}). "
                                    "Please export it again and upload it.")
    decoded = None if foreign else decode_text(data)
    if foreign and by_name is None:
        raise IngestError(filename, f"this is {foreign}, which is not supported. Please upload {detect.SUPPORTED}.")
    if decoded is None or looks_binary(decoded[0]):
        what = foreign or "binary data"
        hint = " (a scan or photo?)" if foreign and "image" in foreign else ""
        raise IngestError(filename, f"this is {what}{hint}, not text, although it is named "
                                    f"“{filename}”. Please upload {detect.SUPPORTED}.")
    text, encoding = decoded
    if encoding not in ("utf-8",):
        log.debug("%s decoded as %s", filename, encoding)
    fmt = by_name or detect.sniff_text_format(text)
    if not text.strip():
        raise IngestError(filename, "the file contains only blank space.")
    return fmt, _parse_text(fmt, text, filename), warnings


def _title(filename: str) -> str:
    return PurePath(filename).stem.replace("_", " ").strip() or filename


def _parse_binary(fmt: str, data: bytes, filename: str, warnings: list[str]) -> list[ParsedEntry]:
    if fmt == "pdf":
        from knowledge.ingest import pdf
        return structure.build_entries(pdf.read_blocks(data, filename), _title(filename))
    if fmt == "docx":
        from knowledge.ingest import word
        return structure.build_entries(word.read_blocks(data, filename), _title(filename))
    from knowledge.ingest import spreadsheet
    entries, sheet_warnings = spreadsheet.xlsx_entries(data, filename)
    warnings.extend(sheet_warnings)
    return entries


def _parse_text(fmt: str, text: str, filename: str) -> list[ParsedEntry]:
    if fmt == "csv":
        from knowledge.ingest import spreadsheet
        return spreadsheet.csv_entries(text, filename)
    if fmt == "json":
        from knowledge.ingest import jsonfaq
        return jsonfaq.entries(text, filename)
    if fmt == "html":
        from knowledge.ingest import htmlpage
        blocks = htmlpage.read_blocks(text)
    elif fmt == "md":
        from knowledge.ingest import markdown
        blocks = markdown.read_blocks(text)
    else:
        from knowledge.ingest import plaintext
        blocks = plaintext.read_blocks(text)
    return structure.build_entries(blocks, _title(filename))
