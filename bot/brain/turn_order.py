"""The carrier's half of a bot turn, in the one order every carrier keeps (see :mod:`bot.brain.types`).

1. Pre-speech actions. ``StopRecording`` (the caller objected) first: the carrier stops and deletes its audio
   recording before the bot confirms it; a carrier that records nothing may leave it out. ``SaveMessage``: the message is durable *before* the bot says so. A save still running
   after ``hold_after_s`` gets the carrier's holding phrase, so the caller is not left in silence; one still
   running after ``action_timeout_s``, or one that raises, has failed: the brain is told (``action_failed``) and
   its new answer is spoken instead. The save runs in a task of its own, so a cancelled turn (barge-in, hang-up)
   never cuts it.
2. The words.
3. Post-speech actions, once the words have been heard: ``Transfer`` (a failure comes back as the
   ``transfer_failed`` event the carrier feeds to the brain next) and ``HangUp``.

The voice pipeline (:mod:`bot.pipeline.brain_adapter`) and the text carrier (:mod:`bot.runtime.text_call`) both run
their turns through :func:`carry_out`; they differ only in how they speak, save, transfer and hang up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.brain.types import BotTurn, CallerInput, HangUp, SaveMessage, StopRecording, Transfer

log = logging.getLogger(__name__)

HOLD_AFTER_S = 1.0  # a save taking longer than this: "one moment please" rather than more silence
ACTION_TIMEOUT_S = 8.0  # a save taking longer than this has failed for the caller: the brain apologises


class TurnCarrier(Protocol):
    """What a carrier does for :func:`carry_out`."""

    async def save_message(self, action: SaveMessage) -> None:
        """Make the message durable; raise when that is impossible."""

    async def hold(self, language: str) -> None:
        """Say the holding phrase while a save takes long (may do nothing)."""

    async def speak(self, turn: BotTurn, failed: FailedAction | None) -> None:
        """Say (or emit) ``turn``; ``failed`` tells which pre-speech action failed before it, if any."""

    async def speech_done(self) -> None:
        """Return once the caller has heard the words just spoken (before a transfer or hang-up)."""

    async def transfer(self, action: Transfer) -> str | None:
        """Put the caller through: None once connected, else the reason it did not connect."""

    async def hang_up(self) -> None:
        """End the call after the goodbye."""

    # optional: ``async def stop_recording(self) -> None`` stops and deletes the call's audio recording


@dataclass(frozen=True)
class FailedAction:
    action: str  # "save_message"
    error: str


@dataclass(frozen=True)
class TurnOutcome:
    turn: BotTurn  # what was spoken: the brain's turn, or its answer to a failed action
    failed: FailedAction | None = None
    ended: Literal["transferred", "hangup"] | None = None  # the call is over for the bot
    next_event: CallerInput | None = None  # a failed transfer, for the carrier to feed to the brain next


Respond = Callable[[CallerInput], Awaitable[BotTurn]]


async def run_save(action: SaveMessage, carrier: TurnCarrier, language: str, *, hold_after_s: float = HOLD_AFTER_S,
                   action_timeout_s: float = ACTION_TIMEOUT_S) -> None:
    """Run one save in a task of its own; past ``hold_after_s`` hold the caller, past ``action_timeout_s`` raise."""
    task = asyncio.ensure_future(carrier.save_message(action))
    done, _ = await asyncio.wait({task}, timeout=hold_after_s)
    if done:
        task.result()
        return
    await carrier.hold(language)
    try:
        await asyncio.wait_for(asyncio.shield(task), max(0.0, action_timeout_s - hold_after_s))
    except asyncio.TimeoutError:
        raise TimeoutError(f"saving the message took longer than {action_timeout_s:.0f} s") from None


async def carry_out(turn: BotTurn, respond: Respond, carrier: TurnCarrier, at: datetime, *,
                    hold_after_s: float = HOLD_AFTER_S, action_timeout_s: float = ACTION_TIMEOUT_S) -> TurnOutcome:
    """Execute ``turn`` through ``carrier`` in the contract's order; ``respond`` asks the brain again."""
    failed: FailedAction | None = None
    for action in turn.pre_speech:
        if isinstance(action, StopRecording):
            stop = getattr(carrier, "stop_recording", None)
            if stop is not None:
                try:
                    await stop()
                except Exception:  # the store's record of the objection still deletes the audio at the call's end
                    log.exception("stopping the recording failed")
            continue
        if isinstance(action, SaveMessage):
            try:
                await run_save(action, carrier, turn.language, hold_after_s=hold_after_s,
                               action_timeout_s=action_timeout_s)
            except Exception as exc:  # the brain must not claim the save: it answers the failure instead
                failed = FailedAction("save_message", str(exc) or type(exc).__name__)
                turn = await respond(CallerInput("action_failed", at, reason=failed.error))
                break
    await carrier.speak(turn, failed)
    if turn.post_speech and turn.say.strip():
        await carrier.speech_done()
    for action in turn.post_speech:
        if isinstance(action, Transfer):
            try:
                reason = await carrier.transfer(action)
            except Exception as exc:
                reason = str(exc) or type(exc).__name__
            if reason:
                return TurnOutcome(turn, failed, next_event=CallerInput("transfer_failed", at, reason=reason))
            return TurnOutcome(turn, failed, ended="transferred")
        if isinstance(action, HangUp):
            await carrier.hang_up()
            return TurnOutcome(turn, failed, ended="hangup")
    return TurnOutcome(turn, failed)
