"""The post-call summary of a stored call: its record read from the database and handed to the brain's summariser.

The summary is written when the call finishes (:func:`bot.store.calls.finish_call`); a message's notification carries
the summary of the call so far (:func:`bot.store.messages.save_message`). It depends on nothing but the record, so
it is the same whichever carrier closed the call. The language is the company's default: the secretary reads it, not
the caller.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.brain.call_summary import CallRecord, CallSummary, RecordedMessage, RecordedTurn, summarize
from bot.store.models import Call, Message


def _message(m: Message) -> RecordedMessage:
    return RecordedMessage(m.caller_name, m.caller_number, m.concern, m.urgency, m.complete is not False)


def record_of(call: Call, *, outcome: str | None = None, extra: tuple[Message, ...] = ()) -> CallRecord:
    """The brain's view of ``call``; ``outcome`` overrides the stored one (a call in progress has none yet)."""
    turns = tuple(RecordedTurn(t.speaker, t.text or "", t.intent, t.entry_question) for t in call.turns)
    messages = tuple(_message(m) for m in sorted({*call.messages, *extra}, key=lambda m: m.id or 0))
    return CallRecord(outcome=outcome or call.outcome or "abandoned", turns=turns, messages=messages,
                      transferred_to=call.transferred_to, caller_number=call.caller_number,
                      duration_s=call.duration_s)


def summarise_message(message: Message, call: Call | None) -> CallSummary:
    """The summary a new message's notification carries: the call so far, as if it ended with this message."""
    if call is not None:
        return summarise_call(call, outcome="message", extra=(message,))
    record = CallRecord(outcome="message", messages=(_message(message),))
    return summarize(record, message.company.default_language)


def summarise_call(call: Call, *, outcome: str | None = None, extra: tuple[Message, ...] = ()) -> CallSummary:
    return summarize(record_of(call, outcome=outcome, extra=extra), call.company.default_language)


def apply_summary(session: Session, call: Call, text: str | None = None) -> CallSummary:
    """Write summary, priority and tags onto ``call`` (not committed); an explicit ``text`` replaces the wording."""
    summary = summarise_call(call)
    call.summary = text if text is not None else summary.text
    call.priority, call.tags = summary.priority, list(summary.tags)
    return summary
