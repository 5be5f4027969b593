"""The knowledge base as the product runs it: one :class:`KnowledgeBase` per process, and every call into it.

Carriers (web, CLI, telephony) and the live-call wiring all come here, so one server holds one set of snapshots in
memory and one Chroma client. The brain only knows a ``Lookup`` (``(question, language) -> SearchResult``);
:func:`make_lookup` binds it to a company.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from bot.brain.types import CallerInput
from bot.runtime.call_sessions import open_session
from bot.settings import Settings
from bot.store.companies import company_profile
from knowledge.base import KnowledgeBase
from knowledge.index import KnowledgeBaseError
from knowledge.learned import MIN_MEAN_PHRASINGS, MIN_NOT_COVERED, LearnedExample, norm_question
from knowledge.types import SearchResult

log = logging.getLogger(__name__)
Lookup = Callable[[str, str | None], SearchResult]
_kbs: dict[tuple, KnowledgeBase] = {}
_kbs_lock = threading.Lock()


def get_kb(settings: Settings) -> KnowledgeBase:
    """The process-wide :class:`knowledge.base.KnowledgeBase` for these settings (one per data dir / server)."""
    key = (str(settings.resolved_data_dir), settings.chroma_host, settings.chroma_port, settings.embedding_model)
    with _kbs_lock:
        kb = _kbs.get(key)
        if kb is None:
            kb = _kbs[key] = KnowledgeBase(settings.resolved_data_dir, chroma_host=settings.chroma_host,
                                           chroma_port=settings.chroma_port, embedding=settings.embedding_model)
        return kb


def make_lookup(settings: Settings, company: str) -> Lookup:
    """A lookup bound to one company's FAQ, as the brain wants it."""
    kb = get_kb(settings)

    def lookup(question: str, language: str | None) -> SearchResult:
        return kb.ask(company, question, language)

    return lookup


def index_document(settings: Settings, company: str, parsed: Any) -> Any:
    """Index a parsed document (replacing one of the same name); returns the KB's DocumentInfo."""
    return get_kb(settings).add_document(company, parsed)


def remove_document(settings: Settings, company: str, name: str) -> None:
    """Remove a document from the index; a document the index never had is not an error here."""
    kb = get_kb(settings)
    try:
        kb.remove_document(company, name)
    except Exception as exc:  # KnowledgeBaseError: not indexed (e.g. its upload failed)
        log.info("document not in the index, nothing to remove: %s", type(exc).__name__)


def delete_company(settings: Settings, company: str) -> None:
    get_kb(settings).delete_company(company)


def stats(settings: Settings, company: str) -> dict[str, Any]:
    return get_kb(settings).stats(company)


class LearnRefused(ValueError):
    """The knowledge base refused a label, in plain words (unknown entry, empty or over-long question, no FAQ yet)."""


def learn(settings: Settings, company: str, questions: list[tuple[str, str | None]],
          entry_question: str | None) -> dict[str, int]:
    """Teach the knowledge base that callers' ``questions`` ((text, language) pairs) belonged to the entry
    ``entry_question``, or (``None``) that the FAQ does not cover them and the hand-off was right.

    All or nothing: raises :class:`LearnRefused` and writes nothing when any label is refused. Returns the
    knowledge base's counts (``added``, ``relabelled``, ``unchanged``, totals ``phrasings`` and ``not_covered``).
    """
    try:  # one wording asked twice is one example, with its first language (KnowledgeBase.learn)
        return get_kb(settings).learn(company, [LearnedExample(text, entry_question, language or None)
                                                for text, language in questions])
    except KnowledgeBaseError as exc:
        raise LearnRefused(str(exc)) from None


def learned(settings: Settings, company: str) -> list[dict[str, Any]]:
    """The company's labelled caller questions, newest first (``entry_question`` None: not covered)."""
    return [{"question": e.question, "entry_question": e.entry_question, "language": e.language}
            for e in reversed(get_kb(settings).learned(company))]


def forget(settings: Settings, company: str, question: str) -> bool:
    """Drop one learned caller question; False when there is none with that wording."""
    return bool(question.strip()) and get_kb(settings).forget(company, question)


def entry_questions(settings: Settings, company: str) -> list[str]:
    """The company's distinct entry questions, alphabetically: what a caller question can be filed under."""
    unique = {norm_question(e.question): e.question for e in get_kb(settings).entries(company)}
    return sorted(unique.values(), key=str.casefold)


def learned_summary(settings: Settings, company: str) -> dict[str, Any]:
    """What the gap page shows about learning: counts, whether the learned model decides, and what it needs."""
    s = stats(settings, company)
    return {"available": True, "phrasings": s["learned_phrasings"], "not_covered": s["learned_not_covered"],
            "model": s["learned_model"], "mean_phrasings": s["mean_phrasings_per_entry"],
            "min_not_covered": MIN_NOT_COVERED, "min_mean_phrasings": MIN_MEAN_PHRASINGS}


@dataclass
class CallerAnswer:
    """What a caller would hear for one question: the spoken reply, and why."""

    question: str
    language: str
    say: str
    answered: bool  # False: the caller is offered the hand-off (transfer or message)
    confidence: float
    source: str | None = None
    location: str | None = None
    entry_question: str | None = None
    intent: str = "faq"
    phrased_by: str = "brain"  # who phrased ``say`` (the receptionist, as on a call)
    alternatives: list[dict[str, Any]] = field(default_factory=list)


def caller_answer(settings: Settings, company_row: Any, question: str, language: str | None = None) -> CallerAnswer:
    """Exactly what a caller gets for ``question`` as the first question of a call: the brain's reply (LLM mode
    included when configured, through the same wiring as a live call), with the knowledge base's view beside it."""
    kb = get_kb(settings)
    lang = language or company_row.default_language or "de"
    results: list[SearchResult] = []

    def lookup(text: str, lang_hint: str | None = None) -> SearchResult:
        results.append(kb.ask(company_row.slug, text, language=lang_hint))
        return results[-1]

    session = open_session(settings, company_profile(company_row), lookup)
    now = datetime.now(timezone.utc)
    session.handle(CallerInput(kind="connect", at=now, language=lang))
    turn = session.handle(CallerInput(kind="speech", at=now, text=question, language=lang))
    result = results[-1] if results else kb.ask(company_row.slug, question, language=lang)
    alternatives = [{"question": h.entry.question, "source": h.entry.source, "score": round(h.score, 3)}
                    for h in result.hits[:3]]
    entry = turn.entry
    return CallerAnswer(question=question, language=turn.language, say=turn.say, answered=turn.intent == "faq",
                        confidence=round(result.confidence, 3), source=entry.source if entry else None,
                        location=entry.location if entry else None,
                        entry_question=entry.question if entry else None, intent=turn.intent,
                        phrased_by="brain", alternatives=alternatives)
