"""The Driver interface: something that plays a scenario against the receptionist and returns a transcript.

Two drivers exist: :mod:`evals.drivers.text` (the brain alone, deterministic) and :mod:`evals.drivers.audio` (the
caller's audio through the whole voice pipeline). Both produce the same :class:`~evals.transcript.CallResult`, so
checks, metrics and reports do not care which mode ran.
"""

from __future__ import annotations

from typing import Any, Protocol

from evals.scenario import Scenario
from evals.transcript import CallResult, TurnRecord

# How the harness recognises that a bot turn hands the caller to a human. The brain may also say so explicitly
# with ``details["handoff"] = True``. Kept in one place so the lead can align it with the brain's intent names.
HANDOFF_INTENTS = frozenset({"ask_person", "not_covered", "handoff", "transfer", "take_message", "message",
                             "operator", "dtmf_zero", "keypad_zero"})
HANDOFF_EXPECTING = frozenset({"name", "handoff_confirm", "transfer", "confirm_handoff", "confirm_transfer", "handoff", "offer_message",
                               "transfer_or_message", "message_offer"})
SPEAKING_WORDS_PER_S = 2.6  # the bot's speaking rate, used to advance the scenario clock in text mode


class Driver(Protocol):
    mode: str

    def run(self, scenario: Scenario, suite: str = "", run: int = 0) -> CallResult: ...

    def close(self) -> None: ...


class DriverUnavailable(RuntimeError):
    """The mode cannot run here (a component is not installed/merged); the message says which and why."""


def action_names(actions: Any) -> list[str]:
    names = []
    for action in actions or ():
        kind = type(action).__name__
        if kind == "Transfer":
            names.append(f"transfer:{getattr(action, 'number', '')}")
        elif kind == "SaveMessage":
            names.append("save_message")
        elif kind == "HangUp":
            names.append("hang_up")
        else:
            names.append(kind)
    return names


def is_handoff(bot_turn: Any) -> bool:
    """True when this bot turn passes the caller towards a human (transfer, or starts/offers taking a message)."""
    details = getattr(bot_turn, "details", None) or {}
    if "handoff" in details:
        return bool(details["handoff"])
    if any(type(a).__name__ == "Transfer" for a in getattr(bot_turn, "actions", ())):
        return True
    return (getattr(bot_turn, "intent", "") in HANDOFF_INTENTS
            or getattr(bot_turn, "expecting", "") in HANDOFF_EXPECTING)


def record_bot_turn(record: TurnRecord, bot_turn: Any) -> TurnRecord:
    """Copy a BotTurn's observable fields into a transcript record."""
    record.bot = bot_turn.say or ""
    record.language = bot_turn.language or ""
    record.intent = bot_turn.intent or ""
    record.expecting = getattr(bot_turn, "expecting", "") or ""
    entry = getattr(bot_turn, "entry", None)
    if entry is not None:
        record.entry_id = entry.id
        record.entry_question = entry.question
        record.entry_answer = entry.answer
    record.actions = action_names(bot_turn.actions)
    record.ends_call = bool(getattr(bot_turn, "ends_call", False))
    record.handoff = is_handoff(bot_turn)
    details = getattr(bot_turn, "details", None) or {}
    if record.intent == "confirm_topic":
        record.topic, record.topic_entry = details.get("topic"), details.get("topic_entry")
    record.confirmed = bool(details.get("confirmed"))
    return record


def speech_seconds(text: str) -> float:
    return len(text.split()) / SPEAKING_WORDS_PER_S


def decide_outcome(result: CallResult) -> str:
    """transferred > message > answered > abandoned: the best thing the call achieved for the caller."""
    if result.transferred_to:
        return "transferred"
    if result.message and (result.message.get("complete", True)
                           or any(r.intent == "message_saved" for r in result.records)):
        return "message"  # a message saved because the caller hung up half-way is not a taken message
    if any(r.entry_id for r in result.records):
        return "answered"
    return "abandoned"
