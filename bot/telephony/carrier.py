"""The brain, wrapped for one media connection: transfers owned by the carrier, resumption, live events.

The pipeline runs the brain's turns (speech, pre-speech saves, hang-up). A *transfer*, though, can only be carried
out by whoever holds the phone line, and only after the caller has heard "I'll put you through". So this wrapper
takes the :class:`~bot.brain.types.Transfer` action out of the turn before the pipeline sees it and hands it to the
carrier (``on_transfer``). On a stream that resumes a call after a failed transfer, the pipeline's opening
``connect`` event is replaced by ``transfer_failed`` so the brain apologises and takes a message instead of
greeting again. Every turn is also reported as a small JSON-able event (live transcript on the browser page).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.brain.types import BotTurn, CallerInput, HangUp, SaveMessage, Transfer
from bot.runtime.carrier_services import LiveCall, Responder

log = logging.getLogger(__name__)

EventSink = Callable[[dict], Awaitable[None] | None]


def turn_outcome(turn: BotTurn) -> str | None:
    """What a turn achieved, in the words the call page shows: answer, message, transfer, goodbye."""
    if any(isinstance(a, Transfer) for a in turn.actions) or turn.details.get("transfer_to"):
        return "transfer"
    if any(isinstance(a, SaveMessage) for a in turn.actions):
        return "message"
    if turn.intent == "faq" and turn.entry is not None:
        return "answer"
    if any(isinstance(a, HangUp) for a in turn.actions):
        return "goodbye"
    return None


class CarrierResponder:
    def __init__(self, inner: Responder, *, live: LiveCall | None = None, resume: CallerInput | None = None,
                 on_transfer: Callable[[str], Awaitable[None] | None] | None = None,
                 on_event: EventSink | None = None) -> None:
        self._inner = inner
        self._live = live
        self._resume = resume
        self._on_transfer = on_transfer
        self._on_event = on_event
        self.turns: list[tuple[CallerInput, BotTurn]] = []

    async def _emit(self, event: dict) -> None:
        if self._on_event is None:
            return
        try:
            result = self._on_event(event)
            if result is not None:
                await result
        except Exception:  # a closed page must never break the call
            log.exception("could not deliver call event %s", event.get("type"))

    async def respond(self, event: CallerInput) -> BotTurn:
        if event.kind == "hangup" and self._live is not None and self._live.transferring:
            # The stream ended because the call went to the secretary, not because the caller hung up: the brain
            # session stays open for the caller's return if nobody answers.
            return BotTurn("", event.language or "de", "handed_over")
        if event.kind == "connect" and self._resume is not None:
            event, self._resume = self._resume, None
        if event.kind == "speech" and event.text:
            await self._emit({"type": "caller", "text": event.text, "language": event.language})
        elif event.kind == "dtmf" and event.digits:
            await self._emit({"type": "caller", "dtmf": event.digits})

        turn = await self._inner.respond(event)

        transfer = next((a for a in turn.actions if isinstance(a, Transfer)), None)
        if transfer is not None and self._on_transfer is not None:
            turn = replace(turn, actions=tuple(a for a in turn.actions if not isinstance(a, Transfer)),
                           details={**turn.details, "transfer_to": transfer.number})
        self.turns.append((event, turn))
        outcome = turn_outcome(turn) if transfer is None or self._on_transfer is None else "transfer"
        await self._emit({"type": "bot", "text": turn.say, "language": turn.language, "intent": turn.intent,
                          "outcome": outcome,
                          "entry_question": turn.entry.question if turn.entry is not None else None,
                          "transfer_to": transfer.number if transfer else None})
        if transfer is not None and self._on_transfer is not None:
            result = self._on_transfer(transfer.number)
            if result is not None:
                await result
        return turn


async def run_until_disconnect(worker, transport) -> None:
    """Run one call's pipeline worker until it ends; the caller's side going away (hang-up, Twilio moving the
    call on to a transfer, the browser closing) cancels it. Both carriers run their calls through this."""
    from pipecat.workers.runner import WorkerRunner

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport, _connection) -> None:
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
