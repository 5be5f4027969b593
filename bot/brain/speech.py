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


def _say_host(host: str, dot: str) -> str:
    return f" {dot} ".join(host.lower().split("."))


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
    text = _EMAIL.sub(lambda m: f"{m[1]} {words['at']} {_say_host(m[2], words['dot'])}", text)
    text = _URL.sub(lambda m: _say_host(m[1], words["dot"]) if "." in m[0] and not m[0][0].isdigit() else m[0], text)

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
