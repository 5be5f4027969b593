"""The post-call summary worded by the configured LLM, accepted only when it is grounded in the call record.

The deterministic summary (:mod:`bot.brain.call_summary`) is always computed first and stays the answer unless the
model's text passes every check: not empty and short, every number in it (three digits or more) taken from the
record, and a message's name and callback number present. Priority and tags never come from the model. The model
call itself is passed in (``complete``), so this module stays free of I/O and the carrier decides on clients and
timeouts; any exception from it means the deterministic text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import prompts
from bot.brain.call_summary import CallRecord, CallSummary

log = logging.getLogger(__name__)
MAX_CHARS = 600
MIN_DIGITS = 3  # shorter numbers ("9 bis 12 Uhr") are times and counts, not facts worth checking
_SPEAKER = {"de": {"caller": "Anrufer", "bot": "KI"}, "en": {"caller": "Caller", "bot": "AI"}}
_NUMBER = re.compile(r"\+?\d[\d \-/().]*\d|\d")

Complete = Callable[[list[dict[str, str]]], str]


def transcript_text(record: CallRecord, language: str) -> str:
    """The record as the model reads it: one line per utterance, then the saved message's fields."""
    names = _SPEAKER.get(language, _SPEAKER["en"])
    lines = [f"{names.get(t.speaker, t.speaker)}: {t.text}" for t in record.turns if t.text.strip()]
    for m in record.messages:
        lines.append(f"[message] name={m.name!r} number={m.number!r} concern={m.concern!r} urgency={m.urgency} "
                     f"complete={m.complete}")
    if record.transferred_to:
        lines.append(f"[transferred to] {record.transferred_to}")
    if record.caller_number:
        lines.append(f"[caller ID] {record.caller_number}")
    lines.append(f"[outcome] {record.outcome}")
    return "\n".join(lines)


def _digit_runs(text: str) -> list[str]:
    runs = []
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) >= MIN_DIGITS:
            runs.append(digits)
    return runs


def _national(digits: str) -> set[str]:
    """A number's digit strings as a reader may write it: E.164 without "+", and nationally with a leading 0."""
    forms = {digits}
    if digits.startswith("49"):
        forms.add("0" + digits[2:])
    if digits.startswith("44"):
        forms.add("0" + digits[2:])
    return forms


def grounded_summary(text: str, record: CallRecord, language: str) -> bool:
    """Whether the model's summary says nothing the record does not, and keeps what the secretary needs."""
    if not text.strip() or len(text) > MAX_CHARS:
        return False
    source = transcript_text(record, language)
    known = "|".join(form for run in _digit_runs(source) for form in _national(run))
    if any(run not in known for run in _digit_runs(text)):
        return False
    for m in record.messages:
        if m.name.strip() and m.name.strip().split()[-1].lower() not in text.lower():
            return False
        number = re.sub(r"\D", "", m.number)
        if number and not any(form in "|".join(_digit_runs(text)) for form in _national(number)):
            return False
    return True


def llm_summary(complete: Complete, record: CallRecord, fallback: CallSummary, language: str,
                company: str) -> CallSummary:
    """The model's wording when it is grounded, else ``fallback``; priority and tags always from ``fallback``."""
    system = (prompts.PROMPTS_DIR / language / "summary_llm.md").read_text(encoding="utf-8").format(company=company)
    try:
        text = complete([{"role": "system", "content": system},
                         {"role": "user", "content": transcript_text(record, language)}]).strip()
    except Exception as exc:  # a model that is down or slow costs the nicer wording, never the summary
        log.warning("LLM summary failed (%s); the deterministic summary stays", type(exc).__name__)
        return fallback
    if not grounded_summary(text, record, language):
        log.info("LLM summary not grounded in the call record; the deterministic summary stays")
        return fallback
    return CallSummary(text=" ".join(text.split()), priority=fallback.priority, tags=fallback.tags)
