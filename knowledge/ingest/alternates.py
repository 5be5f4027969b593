"""Other phrasings of a question, written by the company inside the answer: "Auch gefragt: …" / "Also asked: …".

Callers rarely use the FAQ's own wording ("Wann haben Sie geöffnet?" for "Wann sind Ihre Sprechzeiten?"). A company
can list the phrasings it hears on a line of its own in the answer, in any format; they are moved out of the spoken
answer into :attr:`ParsedEntry.alternates`, where retrieval matches them like the question itself.
"""

from __future__ import annotations

import re
from dataclasses import replace

from knowledge.documents import ParsedEntry

_NAMES = (r"(?:auch gefragt|andere formulierungen|ähnliche fragen|also asked(?: as)?|other phrasings|"
          r"similar questions)")
# a line (or the tail of the answer) that starts with one of these labels holds the phrasings
LABEL = re.compile(
    r"(?:^|\n|(?<=[.!?])\s+)\s*[(\[]?\s*" + _NAMES + r"\s*:\s*(?P<body>[^\n]*?)\s*[)\]]?\s*(?=\n|$)",
    re.IGNORECASE)
# a second label inside one body: "Also asked: … Auch gefragt: …" once a format joined the two lines into one
_INNER = re.compile(r"\s*[)\]]?\s+[(\[]?\s*" + _NAMES + r"\s*:\s*", re.IGNORECASE)
_STARTS = re.compile(r"^\s*[(\[]?\s*" + _NAMES + r"\s*:", re.IGNORECASE)


def is_alternates_line(text: str) -> bool:
    """True for a paragraph that only lists phrasings ("Auch gefragt: …"): it belongs to the answer above it and
    must never be taken for a new question, although it is full of question marks."""
    return bool(_STARTS.match(text))
SPLIT = re.compile(r"\s*(?:;|\||(?<=\?)\s*,|(?<=\?)\s+(?=\S))\s*")


def extract_alternates(entry: ParsedEntry) -> ParsedEntry:
    """Move labelled phrasings out of ``entry.answer`` into ``entry.alternates`` (no-op when there are none)."""
    if entry.kind != "faq":
        return entry
    found: list[str] = []

    def take(match: re.Match[str]) -> str:
        body = _INNER.sub("; ", match.group("body"))
        found.extend(p.strip().strip('"„“”') for p in SPLIT.split(body) if p.strip())
        return "\n" if match.group(0).startswith("\n") else ""

    answer = LABEL.sub(take, entry.answer).strip()
    if not found or not answer:  # an "answer" made only of phrasings is not an answer: leave it alone
        return entry
    seen = {entry.question.casefold()}
    alternates = [a for a in (*entry.alternates, *found) if not (a.casefold() in seen or seen.add(a.casefold()))]
    return replace(entry, answer=answer, alternates=tuple(alternates))
