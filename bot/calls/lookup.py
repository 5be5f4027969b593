"""The FAQ lookup the brain is given during a call: the knowledge base, adapted to ``(question, language)``.

The brain only knows ``Callable[[str, str | None], SearchResult]``; this module is the one place that binds that
to :class:`knowledge.base.KnowledgeBase` (shared per process: it holds the embedding model and the index client).
"""

from __future__ import annotations

import threading
from typing import Callable

from bot.settings import Settings
from knowledge.types import SearchResult

Lookup = Callable[[str, str | None], SearchResult]

_kb_lock = threading.Lock()
_kb_instances: dict[tuple, object] = {}


class KnowledgeUnavailable(RuntimeError):
    """The knowledge base cannot be used in this build or configuration (the message says why)."""


def knowledge_available() -> bool:
    try:
        import knowledge.base  # noqa: F401
    except ImportError:
        return False
    return True


def knowledge_base(settings: Settings):
    """The process-wide :class:`knowledge.base.KnowledgeBase` for these settings (created once)."""
    try:
        from knowledge.base import KnowledgeBase
    except ImportError as exc:
        raise KnowledgeUnavailable(
            f"the knowledge base is not part of this build ({exc}); FAQ answers need knowledge.base.KnowledgeBase"
        ) from exc
    key = (str(settings.resolved_data_dir), settings.chroma_host, settings.chroma_port, settings.embedding_model)
    with _kb_lock:
        kb = _kb_instances.get(key)
        if kb is None:
            kb = KnowledgeBase(settings.resolved_data_dir, chroma_host=settings.chroma_host,
                               chroma_port=settings.chroma_port, embedding=settings.embedding_model)
            _kb_instances[key] = kb
        return kb


def make_lookup(settings: Settings, company: str) -> Lookup:
    """A lookup bound to one company's FAQ, as the brain wants it."""
    kb = knowledge_base(settings)

    def lookup(question: str, language: str | None) -> SearchResult:
        return kb.ask(company, question, language)

    return lookup
