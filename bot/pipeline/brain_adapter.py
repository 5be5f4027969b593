"""The bridge between pipecat frames and the brain's contract (:mod:`bot.brain.types`).

Caller events in (final transcriptions, keypad tones, silence, barge-in, connect) become :class:`CallerInput`;
the responder answers with a :class:`BotTurn`, which the adapter *executes* in the contract's order, through the
turn order every carrier shares (:func:`bot.brain.turn_order.carry_out`):

1. pre-speech actions (``SaveMessage``) through injected callbacks — a message is durable before the bot says so;
   a failing action is reported back as ``kind="action_failed"`` and the brain's new answer is spoken instead.
   The caller is not left in silence meanwhile: a save still running after ``hold_after_s`` gets a holding phrase
   (prompts ``save_holding``), and one still running after ``action_timeout_s`` counts as failed;
2. the text, as a :class:`~bot.pipeline.tts.SpeakFrame` in the turn's language (cached sentences stream at once);
3. after the audio has played: post-speech actions (``Transfer`` via callback, failures reported as
   ``kind="transfer_failed"``; ``HangUp`` ends the pipeline gracefully, so the goodbye is heard in full).

Turns run one at a time in a task of their own, so an interruption (which cancels a processor's current frame)
never cuts a half-executed turn, and a save never runs twice.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    InputDTMFFrame,
    StartFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

import prompts
from bot.brain.turn_order import ACTION_TIMEOUT_S, HOLD_AFTER_S, FailedAction, carry_out
from bot.brain.types import BotTurn, CallerInput, SaveMessage, Transfer
from bot.pipeline.probes import LatencyTracker
from bot.pipeline.tts import SpeakFrame

log = logging.getLogger(__name__)

DTMF_INTERDIGIT_S = 1.5  # keypad digits arrive one by one; "#" or this pause ends an entry
SILENCE_TIMEOUT_S = 8.0  # caller silent this long after the bot finished: a "silence" input
POST_SPEECH_TIMEOUT_S = 60.0  # never wait longer than this for the bot's audio to finish


@runtime_checkable
class Responder(Protocol):
    """What the pipeline needs from the brain: one answer per caller event, in order."""

    async def respond(self, event: CallerInput) -> BotTurn: ...


class SessionResponder:
    """Wraps a brain session with ``handle(CallerInput) -> BotTurn`` (sync or async) as a :class:`Responder`.

    Wiring the real brain is this one line: ``responder = SessionResponder(session)``.
    """

    def __init__(self, session):
        self.session = session

    async def respond(self, event: CallerInput) -> BotTurn:
        # the brain's sessions offer ``ahandle`` (LLM mode must be awaited inside the event loop)
        handle = getattr(self.session, "ahandle", None) or self.session.handle
        result = handle(event)
        return await result if inspect.isawaitable(result) else result


@dataclass
class CallActions:
    """Side effects the brain asks for, injected by whoever runs the call (store, telephony).

    ``save_message`` must return only once the message is durable (raise on failure). ``transfer`` returns
    ``None`` when the transfer is under way or a reason string ("no-answer", "busy") when it did not connect.
    """

    save_message: Callable[[SaveMessage], Awaitable[None]] | None = None
    transfer: Callable[[Transfer], Awaitable[str | None]] | None = None
    stop_recording: Callable[[], Awaitable[None]] | None = None  # the caller objected: stop and delete the audio


@runtime_checkable
class CallRecorder(Protocol):
    """Optional persistence hooks (the store implements them): transcript lines, latencies, the outcome."""

    def caller(self, event: CallerInput) -> None: ...

    def bot(self, turn: BotTurn, at: datetime) -> None: ...

    def latency(self, record) -> None: ...

    def ended(self, outcome: str, at: datetime) -> None: ...


@dataclass
class CallLog:
    """What happened in the call, kept in memory by the adapter (the wav runner prints it)."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (who, text, detail)
    inputs: list[CallerInput] = field(default_factory=list)
    turns: list[BotTurn] = field(default_factory=list)
    outcome: str = "abandoned"
    transferred_to: str | None = None
    messages: list = field(default_factory=list)


class BrainAdapter(FrameProcessor):
    """Turns caller frames into :class:`CallerInput`, asks the responder, and executes the :class:`BotTurn`."""

    def __init__(self, responder: Responder, *, actions: CallActions | None = None,
                 tracker: LatencyTracker | None = None, recorder: CallRecorder | None = None,
                 silence_timeout_s: float = SILENCE_TIMEOUT_S, dtmf_interdigit_s: float = DTMF_INTERDIGIT_S,
                 greet_on_start: bool = True, hold_after_s: float = HOLD_AFTER_S,
                 action_timeout_s: float = ACTION_TIMEOUT_S, **kwargs):
        super().__init__(**kwargs)
        self._hold_after_s = hold_after_s
        self._action_timeout_s = action_timeout_s
        self._responder = responder
        self._actions = actions or CallActions()
        self._tracker = tracker or LatencyTracker()
        self._recorder = recorder
        self._silence_timeout_s = silence_timeout_s
        self._dtmf_interdigit_s = dtmf_interdigit_s
        self._greet_on_start = greet_on_start
        self.log = CallLog()
        self._queue: asyncio.Queue[CallerInput | None] = asyncio.Queue()
        self._worker: asyncio.Task | None = None
        self._silence_task: asyncio.Task | None = None
        self._dtmf_task: asyncio.Task | None = None
        self._digits = ""
        self._bot_speaking = False
        self._speaking_turn = False  # a turn's audio has been requested and has not finished playing
        self._bot_done = asyncio.Event()
        self._bot_done.set()
        self._ended = False
        self._last_bot_stop = 0.0

    # --- frames ------------------------------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._worker = self.create_task(self._run_turns(), name="brain-turns")
            if self._greet_on_start:
                self._tracker.start("greeting")
                await self._queue.put(self._event("connect"))
            return
        if isinstance(frame, TranscriptionFrame):
            self._cancel_silence_timer()
            language = getattr(frame.language, "value", frame.language) or getattr(frame.result, "language", None)
            language = str(language)[:2].lower() if language else None  # "de-DE" -> "de"
            await self._queue.put(self._event("speech", text=frame.text.strip(), language=language))
            return  # consumed: nothing downstream needs caller text
        if isinstance(frame, InputDTMFFrame):
            self._cancel_silence_timer()
            await self._on_digit(str(frame.button.value))
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._cancel_silence_timer()  # the caller is talking; the turn may still be in the making
        elif isinstance(frame, UserStartedSpeakingFrame):
            self._cancel_silence_timer()
            if self._bot_speaking or self._speaking_turn:
                await self._queue.put(self._event("barge_in"))
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            self._cancel_silence_timer()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            self._speaking_turn = False
            self._bot_done.set()
            if not self._ended:
                self._start_silence_timer()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._shutdown(hangup=not self._ended)
        await self.push_frame(frame, direction)

    # --- events ------------------------------------------------------------------------------------------------
    @staticmethod
    def _event(kind: str, **fields) -> CallerInput:
        return CallerInput(kind=kind, at=datetime.now(timezone.utc), **fields)

    async def _on_digit(self, digit: str) -> None:
        self._digits += digit
        if self._dtmf_task is not None:
            await self.cancel_task(self._dtmf_task)
            self._dtmf_task = None
        if digit == "#":
            await self._flush_digits()
        else:
            self._dtmf_task = self.create_task(self._dtmf_timeout(), name="dtmf-timeout")

    async def _dtmf_timeout(self) -> None:
        await asyncio.sleep(self._dtmf_interdigit_s)
        self._dtmf_task = None
        await self._flush_digits()

    async def _flush_digits(self) -> None:
        digits, self._digits = self._digits, ""
        if digits:
            self._tracker.start("reply")
            await self._queue.put(self._event("dtmf", digits=digits))

    def _start_silence_timer(self) -> None:
        self._cancel_silence_timer()
        if self._silence_timeout_s > 0:
            self._silence_task = asyncio.get_running_loop().create_task(self._silence_timeout())

    def _cancel_silence_timer(self) -> None:
        if self._silence_task is not None:
            self._silence_task.cancel()
            self._silence_task = None

    async def _silence_timeout(self) -> None:
        await asyncio.sleep(self._silence_timeout_s)
        self._silence_task = None
        self._tracker.start("reply")
        await self._queue.put(self._event("silence", silence_s=self._silence_timeout_s))

    # --- turns -------------------------------------------------------------------------------------------------
    async def _run_turns(self) -> None:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            try:
                await self._handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("turn failed for %s", event.kind)
            if self._ended:
                return

    async def _respond(self, event: CallerInput) -> BotTurn:
        self.log.inputs.append(event)
        if event.kind == "speech":
            self.log.lines.append(("caller", event.text, event.language or ""))
        elif event.kind == "dtmf":
            self.log.lines.append(("caller", f"DTMF:{event.digits}", ""))
        elif event.kind != "connect":
            self.log.lines.append(("caller", f"<{event.kind}>", ""))
        if self._recorder:
            self._recorder.caller(event)
        return await self._responder.respond(event)

    async def _handle(self, event: CallerInput) -> None:
        """One caller event: the brain's turn, carried out in the shared turn order (bot.brain.turn_order)."""
        turn = await self._respond(event)
        outcome = await carry_out(turn, self._respond, _PipelineCarrier(self), datetime.now(timezone.utc),
                                  hold_after_s=self._hold_after_s, action_timeout_s=self._action_timeout_s)
        if outcome.next_event is not None:  # a transfer that did not connect: the brain hears of it next
            await self._queue.put(self._event(outcome.next_event.kind, reason=outcome.next_event.reason))

    async def _say_holding(self, language: str | None) -> None:
        language = language if language in prompts.LANGUAGES else "de"
        text = prompts.load(language, "phrases")["save_holding"]
        self.log.lines.append(("bot", text, "save_holding"))
        if self._recorder:
            self._recorder.bot(BotTurn(say=text, language=language, intent="save_holding"), datetime.now(timezone.utc))
        self._speaking_turn = True
        self._bot_done.clear()
        await self.push_frame(SpeakFrame(text, language))

    async def _speak(self, turn: BotTurn) -> None:
        self._tracker.mark("brain", intent=turn.intent)
        self.log.turns.append(turn)
        self.log.lines.append(("bot", turn.say, turn.intent))
        if self._recorder:
            self._recorder.bot(turn, datetime.now(timezone.utc))
        if turn.say.strip():
            self._speaking_turn = True
            self._bot_done.clear()
            await self.push_frame(SpeakFrame(turn.say, turn.language, private=tuple(turn.details.get("private", ()))))
        else:
            self._tracker.cancel()

    async def _save(self, action: SaveMessage) -> None:
        if self._actions.save_message is None:
            raise RuntimeError("no message store is connected")
        await self._actions.save_message(action)
        self.log.messages.append(action.message)
        self.log.outcome = "message"

    async def _transfer(self, action: Transfer) -> str | None:
        if self._actions.transfer is None:
            return "no transfer line"
        reason = await self._actions.transfer(action)
        if not reason:
            self.log.outcome = "transferred"
            self.log.transferred_to = action.number
        return reason

    async def _hang_up(self) -> None:
        if self.log.outcome == "abandoned":
            self.log.outcome = "answered"
        self._ended = True
        if self._recorder:
            self._recorder.ended(self.log.outcome, datetime.now(timezone.utc))
        await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)

    async def _wait_bot_done(self) -> None:
        # The audio must have started and stopped; a short grace covers a turn whose audio never starts.
        try:
            await asyncio.wait_for(self._bot_done.wait(), POST_SPEECH_TIMEOUT_S)
        except TimeoutError:
            log.warning("bot audio did not finish within %.0f s", POST_SPEECH_TIMEOUT_S)

    async def _shutdown(self, *, hangup: bool) -> None:
        self._cancel_silence_timer()
        if hangup and not self._ended:
            self._ended = True
            try:
                turn = await asyncio.wait_for(self._responder.respond(self._event("hangup")), 2.0)
            except Exception:
                log.debug("responder did not take the hangup event", exc_info=True)
                turn = None
            # The caller hung up in the middle of a message: the brain keeps what it has (a name, a number) as a
            # partial message. Nobody is left to hear "saved", so the save is all there is to carry out.
            for action in getattr(turn, "actions", ()):
                if isinstance(action, SaveMessage):
                    try:
                        await asyncio.wait_for(self._save(action), self._action_timeout_s)
                    except Exception:
                        log.exception("the partial message of a caller who hung up could not be saved")
            if self._recorder:
                self._recorder.ended(self.log.outcome, datetime.now(timezone.utc))
        if self._worker is not None and not self._worker.done():
            await self.cancel_task(self._worker)
        self._worker = None


class _PipelineCarrier:
    """The voice pipeline's side of :func:`bot.brain.turn_order.carry_out`: speech as frames, the injected
    save and transfer callbacks, the hang-up as the pipeline's end."""

    def __init__(self, adapter: BrainAdapter) -> None:
        self.adapter = adapter

    async def save_message(self, action: SaveMessage) -> None:
        await self.adapter._save(action)

    async def hold(self, language: str) -> None:
        await self.adapter._say_holding(language)

    async def speak(self, turn: BotTurn, failed: FailedAction | None) -> None:
        if failed is not None:
            log.warning("pre-speech action %s failed: %s", failed.action, failed.error)
        await self.adapter._speak(turn)

    async def speech_done(self) -> None:
        await self.adapter._wait_bot_done()

    async def transfer(self, action: Transfer) -> str | None:
        return await self.adapter._transfer(action)

    async def hang_up(self) -> None:
        await self.adapter._hang_up()

    async def stop_recording(self) -> None:
        if self.adapter._actions.stop_recording is not None:
            await self.adapter._actions.stop_recording()
