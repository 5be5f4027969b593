"""Groundedness: is every sentence the bot said traceable to an FAQ answer or to a fixed phrase from prompts/?

The bot must never invent facts. Without an LLM it speaks only FAQ answers (lightly framed for speech) and the
phrases in ``prompts/<lang>/*.yaml``; with an LLM it may paraphrase. So each spoken sentence is matched
(a) against the phrase catalogue as a template — literal parts must match, ``{placeholders}`` match anything — and
(b) fuzzily against the sentences of the FAQ answers the call's knowledge-base lookups returned. A sentence that
matches neither is *ungrounded*: an invented sentence, or a phrase that never made it into prompts/.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml
from rapidfuzz import fuzz

PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
PHRASE_FILES = "phrases*.yaml"  # what the bot speaks; intents.yaml holds what callers say, which proves nothing
FUZZY_THRESHOLD = 85.0  # rapidfuzz partial_ratio / token_set_ratio on normalised text, 0..100
_ABBREVIATIONS = ("dr", "fr", "hr", "nr", "str", "ca", "bzw", "z.b", "u.a", "mr", "mrs", "ms", "st", "inkl", "evtl",
                  "tel", "mo", "di", "mi", "do", "sa", "so", "vs", "etc", "prof", "gmbh", "co", "no", "approx")
_PLACEHOLDER = re.compile(r"\{[a-zA-Z_][a-zA-Z0-9_]*\}")


def normalise(text: str) -> str:
    """Lower case, NFC, punctuation to spaces (digits and letters kept), whitespace collapsed."""
    text = unicodedata.normalize("NFC", text).lower().replace("ß", "ss")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def split_sentences(text: str) -> list[str]:
    """Sentences of spoken text; does not split after common abbreviations ("Dr.", "z.B.") or inside numbers."""
    pieces = re.split(r"(?<=[.!?])\s+", text.strip())
    sentences: list[str] = []
    for piece in pieces:
        if not piece.strip():
            continue
        if sentences:
            prev_word = sentences[-1].rstrip(".").rsplit(None, 1)[-1].lower() if sentences[-1].strip() else ""
            if prev_word in _ABBREVIATIONS or re.fullmatch(r"\d{1,2}", prev_word):
                sentences[-1] = f"{sentences[-1]} {piece}"
                continue
        sentences.append(piece)
    return [s.strip() for s in sentences if normalise(s)]


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


@dataclass(frozen=True)
class PhrasePattern:
    source: str  # the template sentence, for reports
    regex: re.Pattern


def _pattern(template_sentence: str) -> PhrasePattern | None:
    parts = _PLACEHOLDER.split(template_sentence)
    literal = [normalise(p) for p in parts]
    if len("".join(literal)) < 4:  # "{answer}" alone would match anything
        return None
    body = r"\s*(?:.*?)\s*".join(re.escape(p).replace(r"\ ", r"\s+") for p in literal)
    return PhrasePattern(template_sentence, re.compile(rf"^\s*{body}\s*$", re.DOTALL))


def phrase_catalogue(prompts_dir: Path | None = None) -> tuple[PhrasePattern, ...]:
    """Every sentence of every phrase in prompts/*/phrases*.yaml, as a template pattern."""
    return _catalogue(Path(prompts_dir or PROMPTS_DIR))


@lru_cache(maxsize=8)
def _catalogue(prompts_dir: Path) -> tuple[PhrasePattern, ...]:
    patterns: list[PhrasePattern] = []
    for file in sorted(prompts_dir.glob(f"*/{PHRASE_FILES}")):
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        for text in _strings(data):
            for sentence in split_sentences(text):
                pattern = _pattern(sentence)
                if pattern is not None:
                    patterns.append(pattern)
    return tuple(patterns)


def _fixed_patterns(phrases: Iterable[str]) -> list[PhrasePattern]:
    out = []
    for text in phrases:
        for sentence in split_sentences(text):
            pattern = _pattern(sentence)
            if pattern is not None:
                out.append(pattern)
    return out


def _join_digits(text: str) -> str:
    """"1 1 6 1 1 7" -> "116117": a number read digit by digit is the same number."""
    return re.sub(r"(?<=\d) (?=\d)", "", text)


def sentence_source(sentence: str, answers: Iterable[str], patterns: Iterable[PhrasePattern]) -> str | None:
    """Where a bot sentence comes from: ``"phrase: …"``, ``"faq: …"`` or None (ungrounded)."""
    norm = _join_digits(normalise(sentence))
    if not norm:
        return "empty"
    for pattern in patterns:
        if pattern.regex.match(norm):
            return f"phrase: {pattern.source}"
    digits = "".join(re.findall(r"\d", norm))
    for answer in answers:
        norm_answer = _join_digits(normalise(answer))
        if not norm_answer:
            continue
        if digits and digits not in "".join(re.findall(r"\d", norm_answer)):
            continue  # a changed number is a changed fact, however similar the words (spacing of digits is free)
        if norm in norm_answer:
            return f"faq: {answer[:60]}"
        shorter, longer = sorted((norm, norm_answer), key=len)
        score = fuzz.partial_ratio(shorter, longer) if len(shorter) >= 12 else fuzz.ratio(norm, norm_answer)
        if score >= FUZZY_THRESHOLD or fuzz.token_set_ratio(norm, norm_answer) >= 95:
            return f"faq: {answer[:60]}"
    return None


def ungrounded_sentences(text: str, answers: Iterable[str], extra_phrases: Iterable[str] = (),
                         prompts_dir: Path | None = None) -> tuple[int, list[str]]:
    """(number of sentences, the ungrounded ones) for one bot utterance."""
    answers = list(answers)
    patterns = [*phrase_catalogue(prompts_dir), *_fixed_patterns(extra_phrases)]
    sentences = split_sentences(text)
    return len(sentences), [s for s in sentences if sentence_source(s, answers, patterns) is None]
