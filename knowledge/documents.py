"""The contract between ingestion (parsers) and the index: what one uploaded document turns into.

Parsers produce a :class:`ParsedDocument` or raise :class:`IngestError`; the index never sees half a document.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class IngestError(ValueError):
    """A document could not be ingested. ``str(error)`` is a plain-words message for the person who uploaded it."""

    def __init__(self, filename: str, message: str) -> None:
        super().__init__(f"{filename}: {message}")
        self.filename = filename
        self.message = message


@dataclass(frozen=True)
class IngestLimits:
    """Per-company limits (configurable); defaults suit a small company's FAQ material."""

    max_file_bytes: int = 20 * 1024 * 1024
    max_entries_per_document: int = 5000
    max_entries_per_company: int = 20000


@dataclass(frozen=True)
class ParsedEntry:
    """A question/answer pair (FAQ structure) or a titled chunk of prose (fallback), with where it came from."""

    question: str  # for prose chunks: the section heading path, e.g. "Anfahrt > Parken"
    answer: str
    location: str = ""  # "page 3", "row 14", "section Öffnungszeiten"
    language: str | None = None  # "de" / "en" when detectable
    kind: str = "faq"  # "faq" (a real Q/A pair) or "chunk" (section-aware prose chunk)
    alternates: tuple[str, ...] = ()  # other phrasings of the same question ("also asked as"), optional


@dataclass(frozen=True)
class ParsedDocument:
    name: str  # file name as uploaded
    content_hash: str  # sha256 of the raw bytes: re-uploading identical bytes is a no-op
    format: str  # "pdf", "docx", "md", "txt", "html", "csv", "xlsx", "json"
    entries: tuple[ParsedEntry, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
