"""Every call the web app makes into the knowledge base, in one place.

The knowledge base (:mod:`knowledge.base`) is optional at import time so that the web app runs, and its tests run,
where the index is not installed; :func:`available` says whether it is. Nothing else in ``bot.web`` imports
``knowledge.base``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.settings import Settings

log = logging.getLogger(__name__)
_kbs: dict[tuple, Any] = {}
_kbs_lock = threading.Lock()
UNAVAILABLE = "The knowledge base is not installed in this deployment, so documents cannot be searched yet."


class KnowledgeBaseUnavailable(RuntimeError):
    """``knowledge.base`` cannot be imported here."""


def available() -> bool:
    try:
        import knowledge.base  # noqa: F401
    except ImportError:
        return False
    return True


def get_kb(settings: Settings) -> Any:
    """The process-wide :class:`knowledge.base.KnowledgeBase` for these settings (one per data dir / server)."""
    try:
        from knowledge.base import KnowledgeBase
    except ImportError:
        raise KnowledgeBaseUnavailable(UNAVAILABLE) from None
    key = (str(settings.resolved_data_dir), settings.chroma_host, settings.chroma_port, settings.embedding_model)
    with _kbs_lock:
        kb = _kbs.get(key)
        if kb is None:
            kb = _kbs[key] = KnowledgeBase(settings.resolved_data_dir, chroma_host=settings.chroma_host,
                                           chroma_port=settings.chroma_port, embedding=settings.embedding_model)
        return kb


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
    if available():
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
    from knowledge.index import KnowledgeBaseError
    from knowledge.learned import LearnedExample

    try:  # one wording asked twice is one example, with its first language (KnowledgeBase.learn)
        return get_kb(settings).learn(company, [LearnedExample(text, entry_question, language or None)
                                                for text, language in questions])
    except KnowledgeBaseError as exc:
        raise LearnRefused(str(exc)) from None


def learned(settings: Settings, company: str) -> list[dict[str, Any]]:
    """The company's labelled caller questions, newest first (``entry_question`` None: not covered)."""
    if not available():
        return []
    return [{"question": e.question, "entry_question": e.entry_question, "language": e.language}
            for e in reversed(get_kb(settings).learned(company))]


def forget(settings: Settings, company: str, question: str) -> bool:
    """Drop one learned caller question; False when there is none with that wording."""
    return bool(question.strip()) and get_kb(settings).forget(company, question)


def entry_questions(settings: Settings, company: str) -> list[str]:
    """The company's distinct entry questions, alphabetically: what a caller question can be filed under."""
    if not available():
        return []
    from knowledge.learned import norm_question

    unique = {norm_question(e.question): e.question for e in get_kb(settings).entries(company)}
    return sorted(unique.values(), key=str.casefold)


def learned_summary(settings: Settings, company: str) -> dict[str, Any]:
    """What the gap page shows about learning: counts, whether the learned model decides, and what it needs."""
    if not available():
        return {"available": False}
    from knowledge.learned import MIN_MEAN_PHRASINGS, MIN_NOT_COVERED

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
    phrased_by: str = "knowledge-base"  # "brain" when bot.brain's receptionist phrased it
    alternatives: list[dict[str, Any]] = field(default_factory=list)


def _brain_reply(company_row: Any, question: str, language: str, lookup: Any) -> Any | None:
    """The receptionist's turn for ``question`` in a fresh call, or None when the brain is not installed."""
    try:
        from datetime import datetime, timezone

        from bot.brain.receptionist import Receptionist
        from bot.brain.types import CallerInput
        from bot.store.companies import company_profile
    except ImportError:
        return None
    session = Receptionist(company_profile(company_row), lookup).session()
    now = datetime.now(timezone.utc)
    session.handle(CallerInput(kind="connect", at=now, language=language))
    return session.handle(CallerInput(kind="speech", at=now, text=question, language=language))


def caller_answer(settings: Settings, company_row: Any, question: str, language: str | None = None) -> CallerAnswer:
    """Exactly what a caller gets for ``question``: the brain's phrasing when it is installed, else the answer
    the knowledge base would let the bot give (or the hand-off)."""
    import prompts

    kb = get_kb(settings)
    lang = language or company_row.default_language or "de"
    results: list[Any] = []

    def lookup(text: str, lang_hint: str | None = None) -> Any:
        results.append(kb.ask(company_row.slug, text, language=lang_hint))
        return results[-1]

    turn = _brain_reply(company_row, question, lang, lookup)
    result = results[-1] if results else kb.ask(company_row.slug, question, language=lang)
    best = result.best
    alternatives = [{"question": h.entry.question, "source": h.entry.source, "score": round(h.score, 3)}
                    for h in result.hits[:3]]
    if turn is not None:
        entry = turn.entry
        return CallerAnswer(question=question, language=turn.language, say=turn.say, answered=turn.intent == "faq",
                            confidence=round(result.confidence, 3), source=entry.source if entry else None,
                            location=entry.location if entry else None,
                            entry_question=entry.question if entry else None, intent=turn.intent,
                            phrased_by="brain", alternatives=alternatives)
    if result.answerable and best is not None:
        return CallerAnswer(question=question, language=lang, say=best.answer, answered=True,
                            confidence=round(result.confidence, 3), source=best.source, location=best.location,
                            entry_question=best.question, alternatives=alternatives)
    phrases = prompts.load(lang, "phrases")
    handoff = phrases.get("not_covered_closed") or ""  # the brain's wording once it is merged
    return CallerAnswer(question=question, language=lang, say=str(handoff), answered=False,
                        confidence=round(result.confidence, 3), intent="handoff", alternatives=alternatives)


def seed_demo_documents(settings: Settings) -> dict[str, int]:
    """Index the demo companies' FAQ documents (``bot/demo/<slug>/``) that are not indexed yet.

    Returns {slug: documents indexed now}. Without ``knowledge.base`` it logs why and indexes nothing.
    """
    if not available():
        log.warning("demo FAQ documents not indexed: knowledge.base is not installed")
        return {}
    from bot.store.seed import DEMO_DIR
    from bot.web import documents

    done: dict[str, int] = {}
    for folder in sorted(p for p in DEMO_DIR.iterdir() if (p / "company.yaml").is_file()):
        slug, count = folder.name, 0
        have = {d["name"] for d in documents.list_documents(settings, slug)}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name != "company.yaml" and path.name not in have:
                result = documents.store_upload(settings, slug, path.name, path.read_bytes())
                count += result.ok
        done[slug] = count
    return done
