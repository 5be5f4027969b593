"""Find the question and answer columns of a table, CSV or spreadsheet by their header names.

Office workers name them in many ways ("Frage", "Fragen", "Question", "F", "Q", "Thema", "Häufige Fragen" …),
in either language, in any case, and not always in the first row (a title row or a blank row often comes first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Exact header names, best first; a column whose header merely *contains* a stem ("Häufige Fragen") ranks after.
_QUESTION_EXACT = ("frage", "fragen", "question", "questions", "faq", "f", "q", "kundenfrage", "anfrage", "query")
_QUESTION_WEAK = ("thema", "topic", "anliegen", "betreff", "subject", "stichwort", "keyword")
_QUESTION_STEMS = ("frage", "question")
_ANSWER_EXACT = ("antwort", "antworten", "answer", "answers", "a", "response", "reply", "auskunft", "antworttext")
_ANSWER_WEAK = ("info", "information", "informationen", "erklärung", "explanation", "lösung", "solution", "text")
_ANSWER_STEMS = ("antwort", "answer")
_CATEGORY = ("kategorie", "category", "bereich", "rubrik", "gruppe", "group", "section", "abschnitt")
_LANGUAGE = ("sprache", "language", "lang", "sprachcode")


def normalise_header(cell: str) -> str:
    """"  Frage? " -> "frage", "Antwort:" -> "antwort", "Q/A" stays "q/a"."""
    text = re.sub(r"\s+", " ", str(cell or "")).strip().lower()
    return text.strip(" ?:.*#_-–—\"'()[]")


@dataclass(frozen=True)
class QAColumns:
    header_row: int  # index of the header row in the rows given
    question: int
    answer: int
    category: int | None = None
    language: int | None = None


def _pick(headers: list[str], exact: tuple[str, ...], weak: tuple[str, ...], stems: tuple[str, ...],
          taken: set[int]) -> int | None:
    for names in (exact, weak):
        for name in names:
            for i, h in enumerate(headers):
                if i not in taken and h == name:
                    return i
    for i, h in enumerate(headers):
        if i not in taken and any(stem in h for stem in stems):
            return i
    return None


def find_qa_columns(rows: list[list[str]], max_scan: int = 20) -> QAColumns | None:
    """The first row (among the first ``max_scan``) that names both a question and an answer column."""
    for r, row in enumerate(rows[:max_scan]):
        headers = [normalise_header(c) for c in row]
        if sum(1 for h in headers if h) < 2:
            continue
        q = _pick(headers, _QUESTION_EXACT, _QUESTION_WEAK, _QUESTION_STEMS, set())
        if q is None:
            continue
        a = _pick(headers, _ANSWER_EXACT, _ANSWER_WEAK, _ANSWER_STEMS, {q})
        if a is None:
            continue
        cat = _pick(headers, _CATEGORY, (), (), {q, a})
        lang = _pick(headers, _LANGUAGE, (), (), {q, a} | ({cat} if cat is not None else set()))
        return QAColumns(r, q, a, cat, lang)
    return None


def headers_found(rows: list[list[str]], max_scan: int = 5) -> list[str]:
    """The non-empty cells of the first non-empty row: what we tell the user we saw instead of Frage/Antwort."""
    for row in rows[:max_scan]:
        cells = [re.sub(r"\s+", " ", str(c or "")).strip() for c in row]
        cells = [c for c in cells if c]
        if cells:
            return cells
    return []


def looks_like_headerless_qa(rows: list[list[str]]) -> bool:
    """A two-column table without a header whose first column is mostly questions ("…?")."""
    filled = [r for r in rows if len(r) >= 2 and str(r[0] or "").strip() and str(r[1] or "").strip()]
    if len(filled) < 2 or any(len([c for c in r if str(c or "").strip()]) > 2 for r in filled):
        return False
    questions = sum(1 for r in filled if str(r[0]).strip().endswith("?"))
    return questions / len(filled) >= 0.6
