"""Turn a written FAQ answer into something a voice can say — without changing what it says.

Written answers carry markdown, bullet lists, URLs, e-mail addresses, phone numbers and clock times that a TTS
reads badly ("dreißig Millionen …"). This module only changes the *form*: every fact of the written answer is still
in the spoken one, nothing is added but the words that read the notation out.
"""

from __future__ import annotations

import re

import prompts
from bot.brain.numbers import speak_digits, to_e164

_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_BULLET = re.compile(r"^\s*(?:[-*•·–]|\d{1,2}[.)])\s+", re.M)
_URL = re.compile(r"\b(?:https?://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:/[^\s,;)]*)?", re.I)
_EMAIL = re.compile(r"\b([\w.+-]+)@((?:[\w-]+\.)+[a-z]{2,})\b", re.I)
# a phone number: optional +, then digits with spaces, slashes, dashes or brackets; at least 6 digits in all
_PHONE = re.compile(r"(?<![\w:.])(\+?\(?\d[\d ()/-]{4,}\d)(?![\w:])")
_CLOCK = re.compile(
    r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(?:-|–|—|bis|to)\s*(\d{1,2})(?:[:.](\d{2}))?(?:\s*(Uhr|h)\b)?"  # a range
    r"|\b(\d{1,2})[:.](\d{2})(?:\s*(?:Uhr|h)\b)?(?!\s*[ap]\.?m\b)"  # a single time (not "5:30 pm": said as is)
)
_DAY_RANGE = r"\b({days})\.?\s*(?:-|–|—|bis|to)\s*({days})\b\.?"
_DAY_BEFORE_DIGIT = r"\b({days})\b\.?(?=\s*\d)"


def _say_host(host: str, words: dict) -> str:
    """A host name read out: "praxis-berger.de" -> "praxis Bindestrich berger Punkt D E" (German spells the TLD)."""
    labels = host.lower().split(".")
    if words.get("hyphen"):
        labels = [label.replace("-", f" {words['hyphen']} ") for label in labels]
    if words.get("spell_tld") and len(labels) > 1 and len(labels[-1]) <= 3:
        labels[-1] = " ".join(labels[-1].upper())
    return f" {words['dot']} ".join(labels)


def _clock(hour: str, minute: str | None, language: str) -> str:
    h = int(hour)
    m = int(minute) if minute else 0
    if language == "de":
        return f"{h} Uhr" if m == 0 else f"{h} Uhr {m}"
    suffix = "am" if h < 12 else "pm"
    h12 = h % 12 or 12
    return f"{h12} {suffix}" if m == 0 else f"{h12}:{m:02d} {suffix}"


def _clock_sub(m: re.Match[str], language: str, to: str) -> str:
    if m[6]:  # single time
        return _clock(m[6], m[7], language)
    if not any(m.group(k) for k in (2, 4, 5)):  # "2-3" without minutes or "Uhr" is not a time range
        return m[0]
    a, b = _clock(m[1], m[2], language), _clock(m[3], m[4], language)
    if language == "de" and a.endswith(" Uhr"):
        a = a[: -len(" Uhr")]
    return f"{a} {to} {b}"


def _weekdays(text: str, words: dict) -> str:
    names: dict[str, str] = words.get("weekdays", {})
    if not names:
        return text
    alt = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    text = re.sub(_DAY_RANGE.format(days=alt), lambda m: f"{names[m[1]]} {words['to']} {names[m[2]]}", text)
    return re.sub(_DAY_BEFORE_DIGIT.format(days=alt), lambda m: names[m[1]], text)


def _number_pattern(decimal_comma: bool) -> str:
    """A written amount: whole part (with thousands separators) and an optional decimal part ("-" for ",-")."""
    dec, thou = (",", r"\.") if decimal_comma else (r"\.", ",")
    return rf"(\d{{1,3}}(?:{thou}\d{{3}})+|\d+)(?:{dec}(\d{{1,2}}|--?|–)(?!\d))?"


def _amounts(text: str, words: dict) -> str:
    """Prices as they are said: "12,50 €" -> "12 Euro 50", "€ 25,-" -> "25 Euro", "1.200 EUR" -> "1200 Euro".

    Said before the clock rule on purpose: "12.50 €" in an English answer is a price, not ten to one.
    """
    names: dict[str, str] = words.get("currency", {})
    if not names:
        return text
    num = _number_pattern(bool(words.get("decimal_comma")))
    alt = "|".join(sorted(map(re.escape, names), key=len, reverse=True))

    def say(whole: str, cents: str | None, symbol: str) -> str:
        amount = f"{int(re.sub(r'[^0-9]', '', whole))} {names[symbol]}"
        if cents and cents.isdigit() and int(cents) > 0:
            amount += f" {int(cents) * (10 if len(cents) == 1 else 1)}"
        return amount

    # one pass for both orders, so the "Euro" just written is never read again as a symbol before a number
    both = re.compile(rf"(?<![\w.,]){num}\s*({alt})(?!\w)|(?<!\w)({alt})\s*{num}(?!\w)")
    return both.sub(lambda m: say(m[1], m[2], m[3]) if m[1] else say(m[5], m[6], m[4]), text)


_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2}(?!\d))?(?![\d])")


def _dates(text: str, words: dict) -> str:
    """Numeric dates ("12.03.2026", "1.5.") with the month named, where the language writes them so."""
    months: list[str] = words.get("months", [])
    if not months:
        return text

    def say(m: re.Match[str]) -> str:
        day, month = int(m[1]), int(m[2])
        if not (1 <= day <= 31 and 1 <= month <= 12):
            return m[0]
        year = m[3] if m[3] is None or len(m[3]) == 4 else f"20{m[3]}"
        return f"{day}. {months[month - 1]}" + (f" {year}" if year else "")

    return _DATE.sub(say, text)


def _numbers(text: str, words: dict) -> str:
    """Percentages, thousands separators and decimal commas, which voices read as dates or lists of digits."""
    if words.get("percent"):
        text = re.sub(r"(\d)\s*%", rf"\1 {words['percent']}", text)
    if not words.get("decimal_comma"):
        return text
    text = re.sub(r"(?<![\d.,])(\d{1,3}(?:\.\d{3})+)(?![\d]|\.\d)", lambda m: m[1].replace(".", ""), text)
    return re.sub(r"(?<![\d.,])(\d+),(\d+)(?![\d,])", rf"\1 {words['decimal']} \2", text)


def for_speech(answer: str, language: str) -> str:
    """The written ``answer`` reformatted for a voice in ``language`` ("de"/"en")."""
    words = prompts.load(language, "phrases")["speech"]
    text = answer.replace("\r", "")
    text = _MD_LINK.sub(r"\1", text)
    text = _HEADING.sub("", text)
    text = _MD_EMPH.sub(r"\2", text)
    # bullet lines and line breaks become a spoken list
    lines = [_BULLET.sub("", ln).strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    joined: list[str] = []
    for ln in lines:
        if joined and not re.search(r"[.!?:;,]$", joined[-1]):
            joined[-1] += words["list_separator"].rstrip() if not ln[:1].isupper() or language == "en" else "."
        joined.append(ln)
    text = " ".join(joined)
    text = re.sub(r"\.\s*\.", ".", text)
    text = _amounts(text, words)
    text = _dates(text, words)
    text = _numbers(text, words)
    at = f", {words['at']}," if words.get("pause_around_at") else f" {words['at']}"  # a pause: "at" is not swallowed
    text = _EMAIL.sub(lambda m: f"{m[1]}{at} {_say_host(m[2], words)}", text)
    text = _URL.sub(lambda m: _say_host(m[1], words) if "." in m[0] and not m[0][0].isdigit() else m[0], text)

    def phone(m: re.Match[str]) -> str:
        raw = m[1]
        digits = re.sub(r"[^\d+]", "", raw)
        if len(digits.lstrip("+")) < 6 or to_e164(digits) is None:
            return raw
        return speak_digits(digits, language)

    text = _PHONE.sub(phone, text)

    text = _CLOCK.sub(lambda m: _clock_sub(m, language, words["to"]), text)
    text = _weekdays(text, words)
    text = re.sub(r"[*_#`>|]+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return re.sub(r"\s{2,}", " ", text).strip()
