"""The post-call summary, priority and tags, derived from the call record alone (issue 16 item 2, FAQ mode).

A secretary opening the inbox needs three things per call in one glance: what the caller wanted, what the bot did
about it, and what is left for her to do. Everything here is deterministic and computed from what the store already
holds (outcome, transcript turns, saved messages), so a summary can be rebuilt for any past call and never says
anything the record does not. Sentences come from ``prompts/<lang>/summary.yaml``; the language is the company's (the
secretary's), not the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import prompts

Priority = Literal["urgent", "normal", "low", "spam"]
PRIORITIES: tuple[Priority, ...] = ("urgent", "normal", "low", "spam")
# Tag ids, in display order; the web translates them.
TAGS = ("answered", "message", "partial_message", "transferred", "not_covered", "hung_up_during_message", "dead_air")

# Bot intents said while a message is being taken: a hang-up right after one of them lost a message in progress.
# ``ask_…`` and ``number…`` intents count too (see :func:`_taking_message`).
MESSAGE_TAKING_INTENTS = frozenset({
    "ask_person", "take_message", "closed_take_message", "transfer_failed", "not_understood_offer", "name",
    "concern", "urgency", "confirm_number", "offer_caller_id", "caller_id_confirm",
})
# A silent call this short (or from a withheld number) is not worth anyone's time.
SPAM_MAX_SILENT_S = 10.0
MAX_QUOTE = 120  # characters of a caller's own words quoted in the summary


@dataclass(frozen=True)
class RecordedTurn:
    speaker: str  # "caller" or "bot"
    text: str
    intent: str | None = None  # bot turns: what the brain understood
    entry_question: str | None = None  # bot turns: the FAQ entry answered from


@dataclass(frozen=True)
class RecordedMessage:
    name: str
    number: str
    concern: str
    urgency: str = "normal"
    complete: bool = True


@dataclass(frozen=True)
class CallRecord:
    """What the store knows about a finished call."""

    outcome: str  # "answered", "message", "transferred", "abandoned"
    turns: tuple[RecordedTurn, ...] = ()
    messages: tuple[RecordedMessage, ...] = ()
    transferred_to: str | None = None
    caller_number: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class CallSummary:
    text: str
    priority: Priority
    tags: tuple[str, ...]


def _quote(text: str) -> str:
    text = " ".join(text.split()).rstrip(".!?")
    return text if len(text) <= MAX_QUOTE else text[:MAX_QUOTE - 1].rstrip() + "…"


def _unique(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _taking_message(intent: str | None) -> bool:
    return bool(intent) and (intent in MESSAGE_TAKING_INTENTS or intent.startswith(("ask_", "number")))


def _not_covered_questions(turns: tuple[RecordedTurn, ...]) -> list[str]:
    """The caller utterances the bot answered with 'not covered': the FAQ's gaps, in the caller's words."""
    out = []
    for i, turn in enumerate(turns):
        if turn.speaker == "bot" and turn.intent == "not_covered":
            before = [t for t in turns[:i] if t.speaker == "caller" and t.text.strip()]
            if before:
                out.append(_quote(before[-1].text))
    return _unique(out)


def _wanted(p: dict, message: RecordedMessage | None, gaps: list[str], topics: list[str],
            caller_words: list[RecordedTurn]) -> str:
    """What the caller wanted: their own message concern beats everything; else the FAQ's gaps, the topics
    answered, their first words."""
    if message and message.concern.strip():
        return p["wanted"].format(concern=_quote(message.concern))
    if gaps:
        return p["wanted"].format(concern=p["topic_separator"].join(gaps))
    if topics:
        return p["wanted"].format(concern=p["topic_separator"].join(topics))
    if caller_words:
        return p["wanted"].format(concern=_quote(caller_words[0].text))
    return p["wanted_silent"]


def record_from_transcript(transcript: list[dict], *, caller_id: str | None = None,
                           outcome: str = "abandoned") -> CallRecord:
    """A live brain session's transcript (``CallSession.transcript``) as a call record, e.g. for a briefing."""
    turns: list[RecordedTurn] = []
    for item in transcript:
        if item.get("kind") == "speech" and item.get("caller"):
            turns.append(RecordedTurn("caller", item["caller"]))
        if item.get("bot") or item.get("intent"):
            turns.append(RecordedTurn("bot", item.get("bot") or "", item.get("intent"), item.get("entry")))
    return CallRecord(outcome=outcome, turns=tuple(turns), caller_number=caller_id)


def briefing(record: CallRecord, company: str, language: str, *, name: str | None = None,
             number_spoken: str | None = None) -> list[str]:
    """What the secretary hears before a warm transfer: who calls for whom, what about, the callback number, and
    how to accept or decline (sentences from ``prompts/<lang>/telephony.yaml``)."""
    p = prompts.load(language, "summary")
    t = prompts.load(language, "telephony")
    gaps = _not_covered_questions(record.turns)
    topics = _unique([_quote(x.entry_question) for x in record.turns if x.speaker == "bot" and x.entry_question])
    words = [x for x in record.turns if x.speaker == "caller" and x.text.strip()]
    sentences = [t["briefing"].format(company=company)]
    if name:
        sentences.append(t["briefing_name"].format(name=name))
    sentences.append(_wanted(p, None, gaps, topics, words))
    sentences.append(t["briefing_number"].format(number=number_spoken) if number_spoken
                     else t["briefing_withheld"])
    sentences.append(t["briefing_choice"])
    return sentences


def summarize(record: CallRecord, language: str) -> CallSummary:
    """Summary, priority and tags of one finished call, in ``language`` (the company's)."""
    p = prompts.load(language, "summary")
    caller_words = [t for t in record.turns if t.speaker == "caller" and t.text.strip()]
    bot_turns = [t for t in record.turns if t.speaker == "bot"]
    topics = _unique([_quote(t.entry_question) for t in bot_turns if t.entry_question])
    gaps = _not_covered_questions(record.turns)
    message = record.messages[-1] if record.messages else None
    transferred = record.outcome == "transferred" or bool(record.transferred_to)
    spoken = [t for t in bot_turns if t.text.strip()]  # the hang-up itself leaves an empty bot turn
    lost_mid_message = (message is None and record.outcome == "abandoned" and bool(spoken)
                        and _taking_message(spoken[-1].intent))
    # a partial message the bot confirmed (no number could be taken) is no hang-up
    confirmed = any(t.intent == "message_saved" for t in bot_turns)

    tags: list[str] = []
    if topics:
        tags.append("answered")
    if message:
        tags.append("message" if message.complete else "partial_message")
    if transferred:
        tags.append("transferred")
    if gaps:
        tags.append("not_covered")
    if (message and not message.complete and not confirmed) or lost_mid_message:
        tags.append("hung_up_during_message")
    if not caller_words:
        tags.append("dead_air")

    wanted = _wanted(p, message, gaps, topics, caller_words)

    did: list[str] = []
    if topics:
        did.append(p["did_answered"].format(topics=p["topic_separator"].join(topics)))
    if gaps and not message and not transferred:
        did.append(p["did_not_covered"])
    if message:
        name = message.name.strip() or p["unknown_name"]
        if message.complete or (confirmed and message.number):
            did.append(p["did_message"].format(name=name))
        else:
            did.append(p["did_message_incomplete" if confirmed else "did_message_partial"].format(name=name))
    elif lost_mid_message:
        did.append(p["did_hung_up"])
    if transferred:
        did.append(p["did_transferred"].format(number=record.transferred_to or "?"))

    number = (message.number if message and message.number else None) or record.caller_number
    if message and number:
        if not message.complete:
            todo = p["todo_callback_partial"].format(number=number)
        elif not message.name.strip():
            todo = p["todo_callback_no_name"].format(number=number)
        elif message.urgency == "urgent":
            todo = p["todo_callback_urgent"].format(name=message.name.strip(), number=number)
        else:
            todo = p["todo_callback"].format(name=message.name.strip(), number=number)
    elif lost_mid_message and number:
        todo = p["todo_callback_no_name"].format(number=number)
    elif message:
        todo = p["todo_no_number"]
    elif gaps and not transferred:
        todo = p["todo_faq_gap"].format(number=number) if number else p["todo_faq_gap_no_number"]
    else:
        todo = p["todo_nothing"]

    if message and message.urgency == "urgent":
        priority: Priority = "urgent"
    elif message or (lost_mid_message and number) or (gaps and not transferred):
        priority = "normal"
    elif not caller_words and (record.caller_number is None
                               or (record.duration_s is not None and record.duration_s < SPAM_MAX_SILENT_S)):
        priority = "spam"
    else:
        priority = "low"
    return CallSummary(text=" ".join([wanted, *did, todo]), priority=priority, tags=tuple(tags))
