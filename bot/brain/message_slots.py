"""Every slot a caller's turn carries while a message is taken: name, callback digits, concern, urgency.

Callers do not answer one question per turn. "Ja gerne, Peter Wagner." accepts the offer *and* gives the name;
"Peter Wagner, 0711 234 5678, es geht um die Reparatur meiner Yamaha" gives three slots at once. :func:`scan` cuts
a turn into its parts: the concern from its marker ("es geht um", "wegen", "it's about") to the end, the digits
of the rest, and a name from the clause that looks like one — never digits or number words, never fillers
("okay danke"). The vocabulary is data (``prompts/<lang>/intents.yaml``); both languages are read, as callers mix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import prompts
from bot.brain.intents import contains_any, extract_name, normalise, urgency_of
from bot.brain.numbers import parse_spoken_digits

MAX_NAME_WORDS = 4
MIN_DIGITS = 3  # fewer digits are not a number being dictated ("zwei Sachen")


@dataclass(frozen=True)
class Slots:
    name: str | None = None
    digits: str = ""  # as parse_spoken_digits reads them (national, or with "+")
    concern: str | None = None
    urgency: str | None = None  # "urgent" / "normal" / None (no cue)


@lru_cache(maxsize=None)
def _words(key: str) -> tuple[str, ...]:
    """The phrases under ``key`` in both languages, longest first (so "meine nummer ist" wins over "nummer")."""
    found = {w.lower() for lang in prompts.LANGUAGES for w in prompts.load(lang, "intents").get(key, [])}
    return tuple(sorted(found, key=len, reverse=True))


@lru_cache(maxsize=None)
def _number_words() -> frozenset[str]:
    words: set[str] = set()
    for lang in prompts.LANGUAGES:
        vocab = prompts.load(lang, "numbers")
        for value in vocab.values():
            if isinstance(value, dict):
                words.update(str(k).lower() for k in value)
            elif isinstance(value, list):
                words.update(str(k).lower() for k in value if isinstance(k, str))
    return frozenset(words)


def _find(text_lower: str, phrase: str) -> int:
    match = re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", text_lower)
    return match.start() if match else -1


def split_concern(text: str) -> tuple[str, str | None]:
    """(the part before the concern, the concern from its marker on) — the concern is None without a marker."""
    lower = text.lower()
    positions = [(p, m) for m in _words("concern_markers") if (p := _find(lower, m)) >= 0]
    if not positions:
        return text, None
    start = min(p for p, _ in positions)
    concern = text[start:].strip(" ,.;")
    return text[:start], concern or None


def _looks_like_name(candidate: str) -> bool:
    words = candidate.split()
    if not 1 <= len(words) <= MAX_NAME_WORDS:
        return False
    lowered = [w.lower().strip("'’-") for w in words]
    if any(not re.fullmatch(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?", w) for w in words):
        return False  # digits, symbols
    if any(w in _number_words() for w in lowered):
        return False  # "null eins sieben" is a number, never a name
    if any(w in _words("never_in_name") for w in lowered):
        return False  # "Haben Sie Parkplätze": a sentence
    return not all(w in _words("not_a_name") for w in lowered)


def _has_lead_in(clause: str) -> bool:
    lower = clause.strip().lower()
    return any(lower.startswith(p + " ") for p in _words("name_lead_ins"))


def name_in(text: str, *, strict: bool = False) -> str | None:
    """The caller's name in ``text``, or None: the longest clause that looks like a name after its lead-in.

    ``strict`` (a turn that answers something else, e.g. the offer): every word of the name must be written with a
    capital, as recognisers and typists write names, so that "ja gerne, morgen früh" yields no name."""
    if strict:  # a question ("Haben Sie Parkplätze?") carries no name; the sentence after it may
        text = re.sub(r"[^.!?]*\?", " ", text)
    clauses = [c for c in re.split(r"[,;.!]|\s(?:und|and)\s", text) if c.strip()]
    best: str | None = None
    for index, clause in enumerate(clauses):
        if strict and index == 0 and len(clauses) > 1 and not _has_lead_in(clause):
            continue  # "Ja gerne, Peter Wagner": the name follows the yes; a first clause needs "mein Name ist"
        lower = clause.lower()
        cut = [p for m in _words("number_markers") if (p := _find(lower, m)) >= 0]
        if cut:
            clause = clause[:min(cut)]
        candidate = extract_name(clause)
        words = candidate.split()
        while words and words[0].lower() in _words("not_a_name"):  # "Okay, also Peter Wagner"
            words = words[1:]
        if strict:
            written = clause.split()
            capitals = {w.strip(".,'’") for w in written if w[:1].isupper()}
            if not words or any(w.strip(".,'’") not in capitals for w in words):
                continue
        candidate = " ".join(words)
        if candidate and _looks_like_name(candidate) and (best is None or len(candidate) > len(best)):
            best = candidate
    return best


def scan(text: str, *, strict_name: bool = False) -> Slots:
    """All slots in one caller turn (``strict_name``: see :func:`name_in`)."""
    rest, concern = split_concern(text)
    digits = parse_spoken_digits(rest)
    if len(digits.lstrip("+")) < MIN_DIGITS:
        digits = ""
    return Slots(name=name_in(rest, strict=strict_name), digits=digits, concern=concern,
                 urgency=urgency_of(concern or text))


def says_farewell(text: str) -> bool:
    return contains_any(normalise(text), _words("farewell_markers"))


def declines(text: str) -> bool:
    """Thanks or goodbye without any yes word: after "shall I take a message?" that is a no ("okay danke")."""
    norm = normalise(text)
    return contains_any(norm, _words("decline_markers")) and not contains_any(norm, _words("explicit_yes"))
