"""The intermediate form every format parser produces: a flat, ordered list of blocks.

Why a shared form: FAQ structure (question headings, "Q:/A:" markers, bold or numbered questions, question/answer
tables) looks the same whatever file it came from. Each format module only has to say what is a heading, a
paragraph or a table and where it sits; :mod:`knowledge.ingest.structure` recognises the FAQ pattern once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Block:
    """One heading, paragraph or table of a document, in reading order."""

    kind: str  # "heading", "para" or "table"
    text: str = ""
    level: int = 0  # headings: 1 (top) … 6; dt/summary-like labels get 7
    location: str = ""  # "page 3", "line 40"; the section part is added by the structure recogniser
    bold: bool = False  # paragraph is entirely bold/strong (a common way to mark a question)
    lead: str = ""  # bold text the paragraph starts with ("**Wie …?** Antwort …"), if any
    guessed: bool = False  # heading inferred from line shape (PDF, plain text), not marked up by the author
    joined: bool = False  # paragraph rebuilt from layout lines (PDF, text): its end may be a question of its own
    numbered: bool = False  # item of a numbered list (the number itself may not be in ``text``)
    rows: list[list[str]] = field(default_factory=list)  # tables: cell texts, first row first
    row_locations: list[str] = field(default_factory=list)  # tables: location of each row, if known
