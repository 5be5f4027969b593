"""Phone numbers on the phone: parse spoken digits (German and English), apply corrections, validate, read back.

Callers dictate numbers in many ways — "null eins sieben eins, zwo drei", "achtundvierzig", "double five",
"triple 0", "plus vier neun", or plain numerals from the recogniser ("0171 23"). The vocabulary of both languages
lives in ``prompts/<lang>/numbers.yaml``; both are always active because callers mix (a German caller may say
"double"), and digits are never ambiguous between the two languages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

import prompts

_TOKEN = re.compile(r"\+|\d+|[^\W\d_]+|[,.;:!?]")


@dataclass(frozen=True)
class _Vocab:
    digits: dict[str, int]
    weak: frozenset[str]
    teens: dict[str, int]
    tens: dict[str, int]
    repeat: dict[str, int]
    plus: frozenset[str]
    compound: re.Pattern[str]  # German "achtundvierzig"


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    digits: dict[str, int] = {}
    weak: set[str] = set()
    teens: dict[str, int] = {}
    tens: dict[str, int] = {}
    repeat: dict[str, int] = {}
    plus: set[str] = set()
    units_de: dict[str, int] = {}
    tens_de: dict[str, int] = {}
    joiners: set[str] = set()
    for lang in prompts.LANGUAGES:
        data = prompts.load(lang, "numbers")
        digits.update({str(k): int(v) for k, v in data["digits"].items()})
        weak.update(data.get("weak_digits", []))
        teens.update(data.get("teens", {}))
        tens.update(data.get("tens", {}))
        repeat.update(data.get("repeat", {}))
        plus.update(data.get("plus", []))
        if data.get("unit_tens_joiner"):
            joiners.add(data["unit_tens_joiner"])
            units_de.update({str(k): int(v) for k, v in data["digits"].items() if int(v) > 0})
            tens_de.update(data.get("tens", {}))
    if joiners:
        compound = re.compile(
            r"^(?P<unit>%s)(?:%s)(?P<tens>%s)$"
            % ("|".join(sorted(map(re.escape, units_de), key=len, reverse=True)),
               "|".join(map(re.escape, joiners)),
               "|".join(sorted(map(re.escape, tens_de), key=len, reverse=True)))
        )
    else:  # pragma: no cover - only when no language defines a joiner
        compound = re.compile(r"^$")
    return _Vocab(digits, frozenset(weak), teens, tens, repeat, frozenset(plus), compound)


def _joiner_words() -> frozenset[str]:
    return frozenset(prompts.load(lang, "numbers").get("unit_tens_joiner") or "" for lang in prompts.LANGUAGES) - {""}


def _number_value(tok: str, v: _Vocab) -> str | None:
    """The digits one token stands for (strong tokens only), or None."""
    if tok.isdigit():
        return tok
    if tok in v.digits and tok not in v.weak:
        return str(v.digits[tok])
    if tok in v.teens:
        return str(v.teens[tok])
    if tok in v.tens:
        return str(v.tens[tok])
    m = v.compound.match(tok)
    if m:
        return str(v.tens[m["tens"]] + v.digits[m["unit"]])
    return None


def parse_spoken_digits(text: str) -> str:
    """All phone digits in ``text`` as one string ("+" kept when said first), ignoring filler words.

    >>> parse_spoken_digits("null eins sieben eins, zwo drei")
    '017123'
    >>> parse_spoken_digits("plus four nine, double five")
    '+4955'
    """
    v = _vocab()
    joiners = _joiner_words()
    toks = _TOKEN.findall(text.lower())
    out: list[str] = []
    i = 0
    pending_repeat = 0

    def strong(j: int) -> bool:
        return 0 <= j < len(toks) and (_number_value(toks[j], v) is not None or toks[j] in v.repeat)

    while i < len(toks):
        tok = toks[i]
        if tok == "+" or tok in v.plus:
            if not out:
                out.append("+")
            i += 1
            continue
        if tok in v.repeat:
            pending_repeat = v.repeat[tok]
            i += 1
            continue
        value = _number_value(tok, v)
        if value is None and tok in v.weak and tok in v.digits and (strong(i - 1) or strong(i + 1)):
            value = str(v.digits[tok])
        if value is None:
            pending_repeat = 0
            i += 1
            continue
        # "forty eight" -> 48; "acht und vierzig" -> 48
        if tok in v.tens and i + 1 < len(toks) and toks[i + 1] in _en_units():
            value = str(v.tens[tok] + v.digits[toks[i + 1]])
            i += 1
        elif tok in v.digits and i + 2 < len(toks) and toks[i + 1] in joiners and toks[i + 2] in v.tens \
                and v.digits[tok] > 0:
            value = str(v.tens[toks[i + 2]] + v.digits[tok])
            i += 2
        if pending_repeat and len(value) == 1:
            value = value * pending_repeat
        pending_repeat = 0
        out.append(value)
        i += 1
    return "".join(out)


@lru_cache(maxsize=1)
def _en_units() -> frozenset[str]:
    """Units that may follow an English tens word ("forty eight"): German does it the other way round."""
    data = prompts.load("en", "numbers")
    return frozenset(k for k, v in data["digits"].items() if 0 < int(v) and k not in data.get("weak_digits", []))


def to_e164(digits: str, region: str = "DE") -> str | None:
    """The validated E.164 form of a dialled/spoken number, or None when it is not a valid phone number."""
    if len(digits.lstrip("+")) < 4:
        return None
    try:
        parsed = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Numbers a message must not promise a call back to: the call would cost the company a premium or shared-cost rate
# (the audit's toll-fraud route: a caller leaves 0900 … and the secretary dials it), or would reach no person.
# 0700 personal numbers are ordinary forwarding numbers and stay allowed, as do toll-free 0800 numbers.
NO_CALLBACK_TYPES = frozenset({phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST,
                               phonenumbers.PhoneNumberType.UAN, phonenumbers.PhoneNumberType.VOICEMAIL})
# German mass-traffic (0137) and service (0180) numbers, refused whatever type the number metadata gives them.
NO_CALLBACK_PREFIXES = ("+49137", "+49180")


def is_callback_number(e164: str) -> bool:
    """May a secretary be asked to call ``e164`` back? False for premium-rate, shared-cost, UAN and voicemail
    numbers (any country) and German 0137/0180 numbers; True for ordinary fixed, mobile, VoIP, personal numbers."""
    if e164.startswith(NO_CALLBACK_PREFIXES):
        return False
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) not in NO_CALLBACK_TYPES


def digit_groups(number: str, region: str = "DE") -> list[str]:
    """The number split the way people read it out: area code, then blocks of 2-4 digits.

    German numbers are grouped in national form ("0171", "234", "56", "78"); others in international form
    with a leading "+".
    """
    text = number
    try:
        parsed = phonenumbers.parse(number, region)
        if phonenumbers.is_valid_number(parsed):
            fmt = (phonenumbers.PhoneNumberFormat.NATIONAL if phonenumbers.region_code_for_number(parsed) == region
                   else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            text = phonenumbers.format_number(parsed, fmt)
    except phonenumbers.NumberParseException:
        pass
    raw = [g for g in re.split(r"[^\d+]+", text) if g]
    groups: list[str] = []
    for k, g in enumerate(raw):
        if g.startswith("+") or (k == 0 and len(g) <= 5):  # "+49", an area code or mobile prefix ("01511")
            groups.append(g)
            continue
        if len(g) <= 4:
            groups.append(g)
            continue
        # split long blocks into threes, never leaving a single trailing digit
        chunks = [g[k:k + 3] for k in range(0, len(g), 3)]
        if len(chunks[-1]) == 1:
            chunks[-2:] = [chunks[-2][:2], chunks[-2][2:] + chunks[-1]]
        groups.extend(chunks)
    return groups


def speak_digits(number: str, language: str, region: str = "DE") -> str:
    """A number as the bot reads it back: digit words, groups separated by commas ("null eins sieben eins, zwo …")."""
    phrases = prompts.load(language, "phrases")
    words = phrases["digits"]
    spoken_groups = []
    for g in digit_groups(number, region):
        parts = [phrases["plus"] if ch == "+" else words[int(ch)] for ch in g]
        spoken_groups.append(" ".join(parts))
    return ", ".join(spoken_groups)


@dataclass(frozen=True)
class Correction:
    digits: str  # the corrected number (digits, maybe with "+")
    kind: str  # "end", "start", "replace", "full"


def _has_marker(text: str, markers: list[str]) -> tuple[int, int] | None:
    for m in sorted(markers, key=len, reverse=True):
        found = re.search(r"(?<!\w)" + re.escape(m) + r"(?!\w)", text)
        if found:
            return found.start(), found.end()
    return None


def _strip_count(rest: str, connectors: list[str]) -> str:
    """Drop "zwei" in "die letzten zwei sind 48" / "two" in "the last two are 48": a count, not a digit."""
    v = _vocab()
    toks = rest.split()
    if len(toks) >= 2 and _number_value(toks[0], v) is not None and len(_number_value(toks[0], v) or "") == 1:
        follow = " ".join(toks[1:3])
        if any(follow.startswith(c) for c in connectors):
            return " ".join(toks[1:])
    return rest


def apply_correction(current: str, text: str) -> Correction | None:
    """Apply a caller's correction of a read-back number, or None when ``text`` is not a correction with digits.

    Understands "nein, am Ende 48" / "no, the last two are 48" (replace the tail), "am Anfang 0172" (the head),
    "48 statt 47" / "not 47 but 48" (a part), and "die Nummer ist …" / a complete new number (everything).
    """
    lowered = " ".join(_TOKEN.findall(text.lower()))
    for lang in prompts.LANGUAGES:
        data = prompts.load(lang, "numbers")
        for pattern in data.get("replace_patterns", []):
            m = re.search(pattern, lowered)
            if m:
                old, new = parse_spoken_digits(m["old"]), parse_spoken_digits(m["new"])
                if old and new and old in current:
                    k = current.rfind(old)
                    return Correction(current[:k] + new + current[k + len(old):], "replace")
    for lang in prompts.LANGUAGES:
        data = prompts.load(lang, "numbers")
        connectors = data.get("count_connectors", [])
        for markers, kind in ((data.get("end_markers", []), "end"), (data.get("start_markers", []), "start")):
            span = _has_marker(lowered, markers)
            if span:
                digits = parse_spoken_digits(_strip_count(lowered[span[1]:].strip(), connectors))
                if digits and len(digits) < len(current):
                    if kind == "end":
                        return Correction(current[: len(current) - len(digits)] + digits, "end")
                    return Correction(digits + current[len(digits):], "start")
    digits = parse_spoken_digits(text)
    full = any(_has_marker(lowered, prompts.load(lang, "numbers").get("full_markers", [])) for lang in prompts.LANGUAGES)
    if digits and (full or len(digits.lstrip("+")) >= 6):
        return Correction(digits, "full")
    return None
