"""Which of the company's languages is the caller speaking? Recogniser tag plus a stop-word check on the text.

Whisper's language tag is unreliable on two-word utterances ("Ja, bitte"), so a clear text verdict wins; the tag
decides only on longer utterances where the text check is undecided.
"""

from __future__ import annotations

from functools import lru_cache

import prompts
from bot.brain.intents import normalise


@lru_cache(maxsize=1)
def _markers() -> dict[str, frozenset[str]]:
    return {lang: frozenset(normalise(w) for w in prompts.load(lang, "intents")["language_markers"])
            for lang in prompts.LANGUAGES}


def text_language(text: str) -> str | None:
    """"de"/"en" when the words clearly belong to one language, else None."""
    words = normalise(text).split()
    if not words:
        return None
    counts = {lang: sum(w in marks for w in words) for lang, marks in _markers().items()}
    if any(ch in text for ch in "äöüÄÖÜß"):
        counts["de"] = counts.get("de", 0) + 2
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= 1 and top >= 2 * second + 1:
        return best
    return None


def caller_language(text: str, recogniser: str | None, current: str, allowed: tuple[str, ...]) -> str:
    """The language to answer in after this utterance."""
    guess = text_language(text)
    if guess is None and recogniser in allowed and len(normalise(text).split()) >= 3:
        guess = recogniser
    if guess in allowed:
        return guess
    return current
