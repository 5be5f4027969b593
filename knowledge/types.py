"""The knowledge base's public value types, shared by ingestion, index, retrieval and every caller (bot, web, evals).

Kept free of any I/O so that the brain can be tested against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """One FAQ entry: a question a caller may ask and the company's written answer."""

    id: str  # stable within a company: document id + position, e.g. "d3f1…:12"
    question: str
    answer: str
    source: str  # document name as uploaded, e.g. "praxis-faq.pdf"
    location: str = ""  # where in the document: "page 3", "row 14", "section Öffnungszeiten"
    language: str | None = None  # "de" / "en" when known
    document_id: str = ""
    alternates: tuple[str, ...] = ()  # other phrasings of the question the company gave, matched like the question


@dataclass(frozen=True)
class Hit:
    """A ranked retrieval candidate."""

    entry: Entry
    score: float  # higher is better; comparable only within one result


@dataclass(frozen=True)
class SearchResult:
    """What the knowledge base says about one caller question.

    ``answerable`` is the calibrated decision: only when it is true may the bot state the entry's answer.
    ``confidence`` is the calibrated score the decision thresholds (0..1).
    ``near_miss``: not answerable, but the confidence reaches the calibrated near-miss floor: the best entry is
    plausible enough to ask the caller "Is this about {topic}?" (never to state its answer unasked).
    """

    query: str
    hits: tuple[Hit, ...] = ()
    answerable: bool = False
    confidence: float = 0.0
    details: dict = field(default_factory=dict)
    near_miss: bool = False

    @property
    def best(self) -> Entry | None:
        return self.hits[0].entry if self.hits else None

    @property
    def topic(self) -> str | None:
        """The best entry's question, for a confirmation prompt ("Geht es um die Frage: …?")."""
        return self.best.question if self.best else None


@dataclass(frozen=True)
class DocumentInfo:
    """One uploaded document of a company, as the knowledge base keeps it.

    ``status`` says what the last add did: "added" (new), "replaced" (same name, new content; swapped atomically)
    or "unchanged" (identical bytes were uploaded again: a no-op).
    """

    id: str
    name: str
    content_hash: str
    format: str
    entries: int
    version: str = ""
    added_at: float = 0.0
    warnings: tuple[str, ...] = ()
    status: str = "added"
