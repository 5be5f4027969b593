"""Question generation at upload time (issue 13): when an LLM is configured, it writes a few caller phrasings of
each FAQ question, kept as the entry's alternates and shown on the FAQ page for review.

Why at upload time and not per call: the paraphrases then cost nothing during a call (they are matched like the
company's own "Auch gefragt:" phrasings), no caller's words reach the model, and a person can read and remove
every one of them on the FAQ page. Why guarded so closely: a paraphrase that drifts to another topic would make
the bot answer the wrong question, so the model's output is parsed strictly (JSON, per entry, capped in number and
length, never the question itself, never another entry's question) and anything else is dropped.

Without an LLM, or when it fails, the upload proceeds without paraphrases (and says so); nothing here can make an
upload fail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from openai import OpenAI

import prompts
from bot.settings import Settings
from knowledge.documents import ParsedDocument, ParsedEntry

log = logging.getLogger(__name__)

Complete = Callable[[list[dict[str, str]]], str]
PER_ENTRY = 4  # phrasings asked for per question
MAX_CHARS = 200  # a phrasing longer than this is not a caller's question
BATCH = 8  # questions per request
BUDGET_S = 60.0  # an upload waits at most this long for the model; later batches are skipped
ANSWER_CHARS = 300  # of each answer, shown to the model for orientation


@dataclass(frozen=True)
class Generated:
    """What the model wrote: per entry question (as in the document) the accepted phrasings."""

    phrasings: dict[str, tuple[str, ...]]
    warning: str | None = None  # e.g. "the model did not answer": shown with the upload


def openai_complete(settings: Settings) -> Complete:
    client = OpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key or "not-needed",
                    timeout=max(10.0, settings.llm_timeout_s * 5), max_retries=0)

    def complete(messages: list[dict[str, str]]) -> str:
        reply = client.chat.completions.create(model=settings.llm_model, messages=messages, temperature=0.7,
                                               max_tokens=900)
        return reply.choices[0].message.content or ""

    return complete


def key(text: str) -> str:
    """A phrasing compared case- and punctuation-blind."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def parse_reply(reply: str, batch: Sequence[ParsedEntry], known: set[str]) -> dict[str, tuple[str, ...]]:
    """The model's JSON (``{"1": [..], ...}``, possibly wrapped in a code fence) as accepted phrasings per entry
    question; ``known`` holds every question and alternate of the document (as :func:`_key`), never repeated."""
    text = reply.strip()
    fenced = re.search(r"\{.*\}", text, re.S)
    try:
        data = json.loads(fenced.group(0) if fenced else text)
    except (json.JSONDecodeError, AttributeError):
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for number, items in data.items():
        if not str(number).strip().isdigit() or not isinstance(items, list):
            continue
        index = int(str(number).strip()) - 1
        if not 0 <= index < len(batch):
            continue
        kept: list[str] = []
        for item in items:
            if not isinstance(item, str):
                continue
            phrase = " ".join(item.split())
            folded = key(phrase)
            if not folded or len(phrase) > MAX_CHARS or folded in known or len(folded.split()) < 2:
                continue
            known.add(folded)
            kept.append(phrase)
            if len(kept) == PER_ENTRY:
                break
        if kept:
            out[batch[index].question] = tuple(kept)
    return out


def _messages(batch: Sequence[ParsedEntry], language: str, company: str) -> list[dict[str, str]]:
    system = (prompts.PROMPTS_DIR / language / "paraphrases_llm.md").read_text(encoding="utf-8")
    lines = [f"{i}. {e.question}\n   ({e.answer[:ANSWER_CHARS].strip()})" for i, e in enumerate(batch, 1)]
    return [{"role": "system", "content": system.format(company=company, count=PER_ENTRY)},
            {"role": "user", "content": "\n".join(lines)}]


def generate(parsed: ParsedDocument, complete: Complete, *, company: str, default_language: str,
             budget_s: float = BUDGET_S, clock: Callable[[], float] = time.monotonic) -> Generated:
    """Ask the model for phrasings of every FAQ question of ``parsed`` (prose chunks have no question to vary)."""
    entries = [e for e in parsed.entries if e.kind == "faq" and e.question.strip()]
    known = {key(t) for e in parsed.entries for t in (e.question, *e.alternates)}
    phrasings: dict[str, tuple[str, ...]] = {}
    failures, skipped = 0, 0
    deadline = clock() + budget_s
    by_language: dict[str, list[ParsedEntry]] = {}
    for e in entries:
        lang = e.language if e.language in prompts.LANGUAGES else default_language
        by_language.setdefault(lang, []).append(e)
    for lang, group in by_language.items():
        for start in range(0, len(group), BATCH):
            batch = group[start:start + BATCH]
            if clock() > deadline:
                skipped += len(batch)
                continue
            try:
                reply = complete(_messages(batch, lang, company))
            except Exception as exc:  # the server is down, refused, timed out: the upload goes on without
                log.warning("question generation failed for %d entries: %s", len(batch), type(exc).__name__)
                failures += len(batch)
                continue
            got = parse_reply(reply, batch, known)
            failures += len(batch) - len(got)
            phrasings.update(got)
    warning = None
    if entries and not phrasings:
        warning = "The language model wrote no usable caller phrasings for this document."
    elif skipped:
        warning = f"The language model took too long: {skipped} questions got no caller phrasings."
    return Generated(phrasings, warning)


def with_phrasings(parsed: ParsedDocument, phrasings: dict[str, Sequence[str]],
                   rejected: Sequence[str] = ()) -> ParsedDocument:
    """The document with the generated phrasings added to each entry's alternates (those a reviewer removed
    left out), ready for the index."""
    if not phrasings:
        return parsed
    dropped = {key(r) for r in rejected}
    entries, added = [], []
    for e in parsed.entries:
        extra = tuple(p for p in phrasings.get(e.question, ()) if key(p) not in dropped)
        entries.append(replace(e, alternates=e.alternates + extra) if extra else e)
        added.append(extra)
    # the index skips a document whose hash it has: the phrasings are part of what it holds
    digest = hashlib.sha256(f"{parsed.content_hash}:{json.dumps(added, ensure_ascii=False)}".encode()).hexdigest()
    return replace(parsed, entries=tuple(entries), content_hash=digest)
