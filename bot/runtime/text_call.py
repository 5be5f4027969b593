"""The text carrier: drive a call from typed caller turns and report every bot turn as a JSON-ready dict.

It plays the carrier's part of the contract in :mod:`bot.brain.types` exactly as the voice pipeline does: pre-speech
actions first (a message is handed to the sink and only then confirmed; a failing sink is reported back as
``action_failed``), then the words, then post-speech actions (a transfer ends the text call — or, simulated as
unanswered, comes back as ``transfer_failed``; a hang-up ends it). End of input is the caller hanging up.

Input lines: text is speech, ``DTMF:123#`` is keypad input, an empty line is silence.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from bot.brain.turn_order import FailedAction, carry_out
from bot.brain.types import BotTurn, CallerInput, CallMessage, HangUp, SaveMessage, StopRecording, Transfer

MessageSink = Callable[[CallMessage], None]
Emit = Callable[[dict], None]

ACTION_NAMES = {SaveMessage: "save_message", Transfer: "transfer", HangUp: "hangup", StopRecording: "stop_recording"}


@dataclass
class TextCallOptions:
    start: datetime  # timezone-aware clock of the call's start
    step_s: float = 4.0  # how far the clock advances per caller line
    language: str | None = None  # the language a recogniser would report for each caller line
    caller_id: str | None = None
    transfer_answers: bool = True  # False: every transfer comes back as not answered
    silence_s: float = 6.0


def parse_line(line: str) -> tuple[str, str]:
    """("speech", text) / ("dtmf", digits) / ("silence", "") for one input line."""
    stripped = line.rstrip("\r\n")
    if not stripped.strip():
        return "silence", ""
    if stripped.strip().upper().startswith("DTMF:"):
        digits = stripped.strip()[5:].strip()
        bad = set(digits) - set("0123456789*#")
        if not digits or bad:
            raise ValueError(f"keypad line {stripped.strip()!r}: only digits, * and # may follow 'DTMF:'")
        return "dtmf", digits
    return "speech", stripped.strip()


def turn_record(caller: str | None, turn: BotTurn) -> dict:
    names = [ACTION_NAMES[type(a)] for a in turn.actions]
    record = {
        "caller": caller, "bot": turn.say, "action": "+".join(names) if names else None, "intent": turn.intent,
        "entry_question": turn.entry.question if turn.entry else None, "language": turn.language,
        "expecting": turn.expecting,
    }
    for a in turn.actions:
        if isinstance(a, Transfer):
            record["transfer_to"] = a.number
    return record


def message_record(message: CallMessage | None) -> dict | None:
    if message is None:
        return None
    record = {"name": message.name, "number": message.number, "concern": message.concern, "urgency": message.urgency}
    if not message.complete:
        record["complete"] = False
    return record


class _TextCarrier:
    """The text carrier's side of :func:`bot.brain.turn_order.carry_out`: a turn is a JSON record, a save is the
    sink, a transfer connects unless the options say it is not answered."""

    def __init__(self, caller: str | None, sink: MessageSink, emit: Emit, transfer_answers: bool) -> None:
        self.caller, self.sink, self.emit, self.transfer_answers = caller, sink, emit, transfer_answers
        self.transferred_to: str | None = None

    async def save_message(self, action: SaveMessage) -> None:
        self.sink(action.message)

    async def hold(self, language: str) -> None:
        """Nothing to say: a text call has no silence to fill."""

    async def speak(self, turn: BotTurn, failed: FailedAction | None) -> None:
        record = turn_record(self.caller, turn)
        if failed is not None:
            record.update(failed_action=failed.action, error=failed.error)
        self.emit(record)

    async def speech_done(self) -> None:
        """Text is read at once."""

    async def transfer(self, action: Transfer) -> str | None:
        if not self.transfer_answers:
            return "no-answer"
        self.transferred_to = action.number
        return None

    async def hang_up(self) -> None:
        """The input loop stops reading."""


async def run_text_call(session, lines: Iterable[str], options: TextCallOptions, sink: MessageSink,
                        emit: Emit) -> dict:
    """Run one call; ``emit`` gets one dict per bot turn; returns the final outcome dict."""
    clock = options.start
    transferred_to: str | None = None

    async def feed(caller: str | None, inp: CallerInput) -> BotTurn | None:
        """One caller event through the brain and the shared turn order; None once the bot's part is over."""
        nonlocal transferred_to
        carrier = _TextCarrier(caller, sink, emit, options.transfer_answers)
        outcome = await carry_out(await session.ahandle(inp), session.ahandle, carrier, inp.at)
        if outcome.ended == "transferred":
            transferred_to = carrier.transferred_to
        if outcome.next_event is not None:
            return await feed(None, outcome.next_event)
        return None if outcome.ended else outcome.turn

    alive = await feed(None, CallerInput("connect", clock, caller_id=options.caller_id)) is not None
    for line in lines:
        if not alive:
            break
        clock += timedelta(seconds=options.step_s)
        kind, payload = parse_line(line)
        if kind == "speech":
            inp = CallerInput("speech", clock, text=payload, language=options.language)
        elif kind == "dtmf":
            inp = CallerInput("dtmf", clock, digits=payload)
        else:
            inp = CallerInput("silence", clock, silence_s=options.silence_s)
        alive = await feed(payload if kind != "silence" else "", inp) is not None
    if alive:  # input ended: the caller hung up
        end = await session.ahandle(CallerInput("hangup", clock + timedelta(seconds=1)))
        for action in end.pre_speech:
            if isinstance(action, SaveMessage):
                try:
                    sink(action.message)
                except Exception:  # nothing was kept: do not report a message
                    getattr(session, "faq", session).message = None
    message = session.message
    final = {"outcome": "transferred" if transferred_to else session.final_outcome,
             "message": message_record(message), "transferred_to": transferred_to}
    if getattr(getattr(session, "faq", session), "recording_objected", False):
        final["recording_objected"] = True  # the store deletes the transcript once the call is closed
    return final


def run_text_call_sync(session, lines: Iterable[str], options: TextCallOptions, sink: MessageSink,
                       emit: Emit) -> dict:
    return asyncio.run(run_text_call(session, lines, options, sink, emit))
