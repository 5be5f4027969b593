"""The caller's objection to the recording ("Ich möchte nicht aufgezeichnet werden", "please don't record me").

Why patterns and not the intent classifier: an objection must be honoured every time it is said, in any state of
the call and in LLM mode too, and it must never be read into an ordinary question ("Ist eine Aufnahme heute
möglich?" at a clinic, "I have no record of my booking"). The patterns are data (``prompts/<lang>/phrases.yaml``,
``recording_objection_patterns``), kept narrow and tested on both kinds of sentence.
"""

from __future__ import annotations

import functools
import re

import prompts


@functools.lru_cache(maxsize=None)
def _patterns(language: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in prompts.load(language, "phrases")["recording_objection_patterns"])


def objects_to_recording(text: str, language: str) -> bool:
    """The utterance objects to the call being recorded, in ``language`` or in the other language we speak (a
    German caller may say "no recording" to an English greeting)."""
    lowered = " ".join(text.lower().split())
    languages = [language] + [lang for lang in prompts.LANGUAGES if lang != language]
    return any(p.search(lowered) for lang in languages for p in _patterns(lang))
