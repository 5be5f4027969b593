"""Turn a document's blocks into entries: question/answer pairs where the FAQ structure shows, prose chunks elsewhere.

Recognised question signals, strongest first:
- a table (or sheet) with question/answer columns, or a two-column table whose first column holds questions;
- "Q:", "F:", "Frage:", "Question:" markers (the answer may carry "A:", "Antwort:", "Answer:");
- a heading that ends with "?" (its body, up to the next heading, is the answer);
- a paragraph that is bold, or starts bold, and whose bold part ends with "?";
- a numbered paragraph ("3. Wie …?" or an item of a numbered list) ending with "?";
- a short stand-alone line ending with "?" followed by text (PDFs and plain text lose all formatting).
Everything that is not part of a pair is kept as section-aware prose chunks (never dropped silently).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from knowledge.documents import ParsedEntry
from knowledge.ingest.alternates import is_alternates_line
from knowledge.ingest.blocks import Block
from knowledge.ingest.columns import find_qa_columns, looks_like_headerless_qa
from knowledge.ingest.text import clean_inline, detect_language, split_sentences

CHUNK_MAX_CHARS = 600
CHUNK_MAX_SENTENCES = 4
MAX_QUESTION_CHARS = 300

_Q_MARK = re.compile(r"^(?:Q|F|Frage|Question|Fr\.)\s*(?:\d{1,3}\s*[.):：]|\d{0,3}\s*[:：])\s*", re.IGNORECASE)
_A_MARK = re.compile(r"^(?:A|Antwort|Answer|Antw\.)\s*(?:\d{1,3}\s*[.):：]|\d{0,3}\s*[:：])\s*", re.IGNORECASE)
_INLINE_A_MARK = re.compile(r"\s(?:A|Antwort|Answer)\s*[:：]\s+", re.IGNORECASE)
_NUMBERED = re.compile(r"^\(?(\d{1,3})[.)]\s+(.+)$", re.DOTALL)


@dataclass
class _Pending:
    question: str
    location: str
    section: tuple[str, ...]
    answers: list[str] = field(default_factory=list)
    level: int | None = None  # heading level when the question is a heading; its sub-headings belong to the answer


@dataclass
class _Prose:
    section: tuple[str, ...]
    location: str
    text: str


def _split_question(text: str) -> tuple[str, str] | None:
    """``"Wie …? Die Antwort …"`` -> (question, rest) when the text opens with one question sentence."""
    idx = text.find("?")
    if idx < 0 or idx + 1 > MAX_QUESTION_CHARS:
        return None
    head = text[: idx + 1]
    if re.search(r"[.!]\s", head) and not re.search(r"\b(?:z\.|d\.|u\.|Dr\.|Nr\.|ca\.|bzw\.)\s", head):
        return None  # a statement precedes the question mark: not a question-first paragraph
    return head.strip(), text[idx + 1:].strip()


def _question_of(block: Block) -> tuple[str, str] | None:
    """If ``block`` opens a question, return (question, answer text already in the block)."""
    text = block.text
    m = _Q_MARK.match(text)
    if m:
        rest = text[m.end():]
        inline = _INLINE_A_MARK.search(rest)
        if inline:
            return rest[: inline.start()].strip(), rest[inline.end():].strip()
        split = _split_question(rest)
        return (split if split and split[1] else (rest.strip(), ""))
    if block.kind == "heading":
        t = text.rstrip(" :")
        return (t, "") if t.endswith("?") else None
    if block.bold:
        t = text.rstrip(" :")
        return (t, "") if t.endswith("?") and len(t) <= MAX_QUESTION_CHARS else None
    if block.lead and text.startswith(block.lead) and block.lead.rstrip(" :").endswith("?"):
        return block.lead.rstrip(" :"), text[len(block.lead):].lstrip(" :").strip()
    m = _NUMBERED.match(text)
    if m or block.numbered:
        body = m.group(2) if m else text
        split = _split_question(body)
        if split:
            return split
    return None


def _plain_question(text: str) -> bool:
    """A short stand-alone line ending with "?" (one sentence): a question in a document without formatting."""
    return text.endswith("?") and len(text) <= 200 and len(split_sentences(text)) == 1


def _join_location(location: str, section: tuple[str, ...]) -> str:
    parts = [location] if location else []
    if section:
        parts.append(f"section {' > '.join(section)}")
    return ", ".join(parts)


class _Builder:
    def __init__(self, title: str) -> None:
        self.title = title
        self.entries: list[ParsedEntry] = []
        self.prose: list[_Prose] = []
        self.pending: _Pending | None = None
        self.section: list[tuple[int, str]] = []
        self.tables = 0

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self.section)

    # -- pairs --
    def add_pair(self, question: str, answer: str, location: str, language: str | None = None) -> None:
        question, answer = clean_inline(question), clean_inline(answer)
        if question and answer:
            self.entries.append(ParsedEntry(question=question, answer=answer, location=location,
                                            language=language or detect_language(f"{question} {answer}")))

    def open_question(self, question: str, first_answer: str, block: Block) -> None:
        self.close_question()
        self.pending = _Pending(question, block.location, self.path, [first_answer] if first_answer else [],
                                block.level if block.kind == "heading" else None)

    def close_question(self) -> None:
        p, self.pending = self.pending, None
        if p is None:
            return
        while p.answers and p.answers[-1].endswith(":") and p.level is not None:
            p.answers.pop()  # a trailing sub-heading without text under it
        if p.answers:
            self.add_pair(p.question, " ".join(p.answers), _join_location(p.location, p.section))
        else:  # a question nobody answered is still text the company wrote
            self.prose.append(_Prose(p.section, p.location, p.question))

    # -- blocks --
    def heading(self, block: Block) -> None:
        p = self.pending
        if block.guessed and p is not None and (not p.answers or not p.question):
            self.para(Block("para", block.text, location=block.location))  # "Wo ist die Praxis?" / "Kastanienallee 41"
            return
        q = _question_of(block)
        if not q and p is not None and p.level is not None and block.level > p.level:
            # "## Wie komme ich hin?" / "### Mit dem Auto" / text: the sub-heading labels part of the answer
            p.answers.append(block.text if block.text[-1:] in ".:!?" else f"{block.text}:")
            return
        while self.section and self.section[-1][0] >= block.level:
            self.section.pop()
        if q:
            self.open_question(q[0], q[1], block)
        else:
            self.close_question()
            self.section.append((block.level, block.text))

    def para(self, block: Block) -> None:
        text = block.text
        if self.pending is not None and not self.pending.question:  # "Frage:" alone, the question follows
            self.pending.question = text
            return
        if self.pending is not None and self.pending.answers and is_alternates_line(text):
            self.pending.answers.append(text)  # "Auch gefragt: …?" under an answer: moved to alternates later
            return
        a = _A_MARK.match(text)
        if a and self.pending is not None:
            if text[a.end():].strip():
                self.pending.answers.append(text[a.end():])
            return
        q = _question_of(block)
        if q is None and block.joined and text.endswith("?") and not _plain_question(text):
            # layout lines of an answer and the next question ran together: "… abholen. Wie lange dauert …?"
            *before, last = split_sentences(text)
            if before and _plain_question(last):
                self.para(Block("para", " ".join(before), location=block.location))
                self.para(Block("para", last, location=block.location))
                return
        if q is None and _plain_question(text) and (self.pending is None or self.pending.answers):
            q = (text, "")
        if q:
            self.open_question(q[0], q[1], block)
        elif self.pending is not None:
            self.pending.answers.append(text)
        else:
            self.prose.append(_Prose(self.path, block.location, text))

    def table(self, block: Block) -> None:
        self.tables += 1
        rows = [[clean_inline(c) for c in row] for row in block.rows]
        locs = block.row_locations or [f"table {self.tables}, row {i + 1}" for i in range(len(rows))]
        cols = find_qa_columns(rows)
        qa_table = cols is not None or looks_like_headerless_qa(rows)
        if not qa_table and self.pending is not None:  # "Was kostet …?" answered by a price table
            self.pending.answers.extend(self._fact_lines(rows))
            return
        self.close_question()
        if cols is not None:
            for i in range(cols.header_row + 1, len(rows)):
                row = rows[i]
                get = lambda c: row[c] if c is not None and c < len(row) else ""  # noqa: E731
                section = self.path + ((get(cols.category),) if get(cols.category) else ())
                self.add_pair(get(cols.question), get(cols.answer), _join_location(locs[i], section),
                              _lang_code(get(cols.language)))
            return
        if looks_like_headerless_qa(rows):
            for i, row in enumerate(rows):
                if len(row) >= 2:
                    self.add_pair(row[0], row[1], _join_location(locs[i], self.path))
            return
        for i, line in self._fact_lines(rows, with_index=True):  # prices, hours: each row a line of prose
            self.prose.append(_Prose(self.path, locs[i].split(",")[0] if block.row_locations else block.location,
                                     line))

    @staticmethod
    def _fact_lines(rows: list[list[str]], with_index: bool = False) -> list:
        """Rows of a table that is not Q/A as sentences: "Attest: 15 €." (a label header row is folded in)."""
        header = rows[0] if _looks_like_header(rows) else None
        out = []
        for i, row in enumerate(rows):
            if header is not None and i == 0:
                continue
            cells = [c for c in row if c]
            if header is not None and len(row) > 2:
                cells = [row[0]] + [f"{h}: {c}" if h else c for h, c in zip(header[1:], row[1:]) if c]
            if cells:
                line = ": ".join(cells) if len(cells) == 2 else "; ".join(cells)
                line = line if line[-1:] in ".!?" else line + "."
                out.append((i, line) if with_index else line)
        return out

    # -- prose --
    def chunks(self) -> list[ParsedEntry]:
        out: list[ParsedEntry] = []
        groups: list[list[_Prose]] = []
        for p in self.prose:
            if groups and groups[-1][0].section == p.section:
                groups[-1].append(p)
            else:
                groups.append([p])
        for group in groups:
            heading = " > ".join(group[0].section) or self.title
            sentences = [(s, p.location) for p in group for s in split_sentences(p.text)]
            # even chunks: 5 sentences become 3 + 2, not 4 + 1
            per_chunk = math.ceil(len(sentences) / max(1, math.ceil(len(sentences) / CHUNK_MAX_SENTENCES)))
            current: list[str] = []
            location = group[0].location
            for sentence, where in sentences:
                size = sum(len(c) + 1 for c in current) + len(sentence)
                if current and (size > CHUNK_MAX_CHARS or len(current) >= per_chunk):
                    out.append(self._chunk(heading, current, location, group[0].section))
                    current = []
                if not current:
                    location = where
                current.append(sentence)
            if current:
                out.append(self._chunk(heading, current, location, group[0].section))
        return out

    def _chunk(self, heading: str, sentences: list[str], location: str, section: tuple[str, ...]) -> ParsedEntry:
        answer = clean_inline(" ".join(sentences))
        return ParsedEntry(question=heading, answer=answer, location=_join_location(location, section),
                           language=detect_language(f"{heading} {answer}"), kind="chunk")


def _looks_like_header(rows: list[list[str]]) -> bool:
    """First row of short labels without figures ("Leistung | Preis") above at least two data rows."""
    first = [c for c in rows[0] if c]
    return (len(rows) >= 3 and len(first) >= 2 and all(len(c) <= 30 and not re.search(r"[\d€$%]", c) for c in first)
            and any(re.search(r"\d", c) for row in rows[1:] for c in row))


def _lang_code(value: str) -> str | None:
    v = value.strip().lower()[:2]
    return v if v in ("de", "en") else None


def build_entries(blocks: list[Block], title: str) -> list[ParsedEntry]:
    """Entries of one document in reading order of their first appearance: pairs first, then prose chunks."""
    builder = _Builder(title)
    for block in blocks:
        if block.kind == "table":
            builder.table(block)
            continue
        block.text = clean_inline(block.text)
        block.lead = clean_inline(block.lead)
        if not block.text:
            continue
        if block.kind == "heading":
            builder.heading(block)
        else:
            builder.para(block)
    builder.close_question()
    return builder.entries + builder.chunks()


def fill_language(entries: list[ParsedEntry]) -> list[ParsedEntry]:
    """Entries too short to tell get the document's majority language."""
    counts = {"de": 0, "en": 0}
    for e in entries:
        if e.language in counts:
            counts[e.language] += 1
    if not any(counts.values()):
        return entries
    majority = max(counts, key=counts.get)
    return [e if e.language else replace(e, language=majority) for e in entries]
