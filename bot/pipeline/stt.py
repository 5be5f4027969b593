"""The pipecat STT service: turn-taking (Silero VAD events + Smart Turn v3.2) and early local transcription.

Why one processor for both: the end-of-turn model and the recogniser need the same audio at the same moment. At
the first short pause (:class:`~bot.pipeline.vad.CallerPausedFrame`, ~0.1 s of Silero silence, before the VAD's own
stop at 0.2 s) we start *both* the Smart Turn verdict and the transcription of the utterance so far,
speculatively: when the caller speaks again before the VAD stop (:class:`~bot.pipeline.vad.CallerResumedFrame`) the
work is called off. At the VAD stop (``VADUserStoppedSpeakingFrame``) the speculative work is adopted (or started
now, without a pause frame). If Smart Turn says "complete", the transcript is usually ready at the same time; if it
says "incomplete", we wait a little for more speech (not at all when the transcript is a finished question), and
when none comes the early transcript is reused as it is. Only when the caller goes on talking is the early result
thrown away, and the whole turn is transcribed again at its next silence.

It also starts barge-in: caller speech while the bot talks broadcasts an ``InterruptionFrame`` (pipecat's output
transport then drops the queued bot audio) and a ``UserStartedSpeakingFrame`` that the brain adapter reports to
the brain as ``kind="barge_in"``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import STTService
from pipecat.transcriptions.language import Language

from bot.pipeline.probes import LatencyTracker
from bot.pipeline.vad import CallerPausedFrame, CallerResumedFrame
from bot.pipeline.whisper_engine import (SAMPLE_RATE, SttResult, TranscriptionCancelled, WhisperEngine,
                                         trim_leading_silence)
from bot.pipeline.whisper_pool import WhisperPool

log = logging.getLogger(__name__)

PRE_ROLL_S = 1.0  # audio kept before VAD start: the VAD confirms speech late on soft onsets ("Which folder ...")
MAX_TURN_S = 28.0  # whisper's window, minus the trimmed-window padding
MIN_SPEECH_S = 0.3  # shorter blips (a click, a breath) are not a turn
INCOMPLETE_WAIT_S = 1.0  # after "incomplete" from Smart Turn, how long to wait for more speech
SMART_TURN_MAX_S = 8.0
FINISHED_SENTENCE_WAIT_S = 0.3  # after "incomplete", when the transcript already ends a sentence
# Digital silence appended before recognition. A speculative pass starts ~0.1 s after the last word; with a short
# tail Whisper often leaves out the final "?" ("Where can I park my car"), and the question mark ends the turn at
# once when Smart Turn hesitates. 0.1 s brings it back (measured on the benchmark's espeak callers).
TAIL_SILENCE_S = 0.1


def looks_finished(text: str) -> bool:
    """Whisper ended the transcript with a full stop, question or exclamation mark (not "..." or a comma)."""
    text = text.strip()
    return len(text.split()) >= 2 and text[-1:] in ".?!" and not text.endswith("..")


def _too_short(audio: bytes) -> bool:
    """Less speech than a turn needs (the pre-roll plus :data:`MIN_SPEECH_S`): a click or a breath."""
    return len(audio) / 2 / SAMPLE_RATE < MIN_SPEECH_S + PRE_ROLL_S


def is_question(text: str) -> bool:
    """A finished question ("Wann haben Sie geöffnet?"): the caller now waits for us, whatever the prosody says."""
    return looks_finished(text) and text.strip().endswith("?")


@dataclass
class _Speculation:
    """Transcription and Smart Turn verdict started at a short pause, before the VAD stop confirmed it."""

    audio: bytes
    transcript: asyncio.Future
    turn: asyncio.Future | None
    cancel: threading.Event = field(default_factory=threading.Event)

    def drop(self) -> None:
        self.cancel.set()  # a job still queued for the engine, or between stages, stops there
        for fut in (self.transcript, self.turn):
            if fut is not None and not fut.done():
                fut.cancel()


class LocalWhisperSTTService(STTService):
    """faster-whisper (the shared :class:`WhisperPool`) + Smart Turn, with transcription started at the first silence.

    Args:
        engine: the process-wide recogniser (``bot.pipeline.registry.whisper_engine``).
        smart_turn: the process-wide ``LocalSmartTurnAnalyzerV3`` (only its model is used; state lives here).
        languages: the languages a caller may speak (the company's); detection is restricted to them.
        default_language: the company's language, kept unless another one clearly wins the detection.
        tracker: latency probes of this call.
        vad_stop_secs: the VAD's stop delay, to date the real end of speech.
        early: start transcription at the first silence (the product); ``False`` waits for the turn decision
            first (used to measure what the lever buys).
        trimmed: use the trimmed encoder window (see :mod:`bot.pipeline.whisper_engine`).
    """

    def __init__(self, *, engine: WhisperEngine | WhisperPool, smart_turn=None, languages: tuple[str, ...] = ("de", "en"),
                 default_language: str | None = None, tracker: LatencyTracker | None = None, vad_stop_secs: float = 0.2, early: bool = True,
                 trimmed: bool = True, incomplete_wait_s: float = INCOMPLETE_WAIT_S, **kwargs):
        from pipecat.services.settings import STTSettings

        kwargs.setdefault("settings", STTSettings(model=str(engine.model_dir), language=None))
        super().__init__(sample_rate=SAMPLE_RATE, **kwargs)
        self._engine = engine
        self._smart_turn = smart_turn
        self._languages = tuple(languages)
        self._default_language = default_language if default_language in self._languages else self._languages[0]
        self._tracker = tracker or LatencyTracker()
        self._vad_stop_secs = vad_stop_secs
        self._early = early
        self._trimmed = trimmed
        self._incomplete_wait_s = incomplete_wait_s
        self._pre_roll = bytearray()
        self._turn = bytearray()
        self._in_turn = False
        self._bot_speaking = False
        self._caller_speaking = False  # between VAD start and VAD stop
        self._finalize_task: asyncio.Task | None = None
        self._early_task: asyncio.Future | None = None
        self._spec: _Speculation | None = None
        self.results: list[SttResult] = []
        self.speculations = {"started": 0, "adopted": 0, "dropped": 0}  # for tests and the benchmark

    def can_generate_metrics(self) -> bool:
        return True

    # --- frames ------------------------------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, CallerPausedFrame):
            self._speculate()
            return
        if isinstance(frame, CallerResumedFrame):
            self._drop_speculation()
            return
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            if self._caller_speaking:
                # The bot's answer to an earlier fragment starts while the caller is talking again: do not talk
                # over the caller. Interrupt it, and tell the adapter (barge-in) as if the caller had just started.
                await super().process_frame(frame, direction)
                await self.broadcast_interruption()
                await self.broadcast_frame(UserStartedSpeakingFrame)
                return
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._cancel_finalize()
        await super().process_frame(frame, direction)

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection):
        if not frame.audio or self._muted:
            return
        if self._in_turn:
            self._turn += frame.audio
            max_bytes = int(MAX_TURN_S * SAMPLE_RATE) * 2
            if len(self._turn) > max_bytes:
                del self._turn[: len(self._turn) - max_bytes]
        else:
            self._pre_roll += frame.audio
            keep = int(PRE_ROLL_S * SAMPLE_RATE) * 2
            if len(self._pre_roll) > keep:
                del self._pre_roll[: len(self._pre_roll) - keep]

    async def run_stt(self, audio: bytes):  # pragma: no cover - audio is handled per turn, not per frame
        yield None

    async def _handle_vad_user_started_speaking(self, frame: VADUserStartedSpeakingFrame):
        await super()._handle_vad_user_started_speaking(frame)
        self._caller_speaking = True
        if self._in_turn and self._finalize_task is not None:
            # The caller went on after a pause: the early transcript is stale, the turn continues.
            await self._cancel_finalize()
            return
        if self._in_turn:
            return
        self._in_turn = True
        self._turn = bytearray(self._pre_roll)
        self._pre_roll = bytearray()
        if self._bot_speaking:
            await self.broadcast_interruption()  # barge-in: stop the bot's audio now
        await self.broadcast_frame(UserStartedSpeakingFrame)

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame):
        await super()._handle_vad_user_stopped_speaking(frame)
        self._caller_speaking = False
        if not self._in_turn:
            return
        speech_end = time.monotonic() - self._vad_stop_secs
        spec, self._spec = self._spec, None
        await self._cancel_finalize()
        turn_verdict = None
        if spec is not None:  # started at the short pause; the caller has stayed quiet since
            audio, self._early_task, turn_verdict = spec.audio, spec.transcript, spec.turn
            self.speculations["adopted"] += 1
        else:
            audio = bytes(self._turn)
            if self._early:
                self._early_task = asyncio.ensure_future(self._transcribe(audio))
        self._finalize_task = self.create_task(self._finalize(audio, speech_end, turn_verdict), name="turn-finalize")

    def _speculate(self) -> None:
        """A short pause: start the final transcription and the Smart Turn verdict now, called off if the caller
        goes on. Only in early mode, inside a turn that is not already being finalised."""
        if not (self._early and self._in_turn and self._caller_speaking) or self._finalize_task is not None:
            return
        audio = bytes(self._turn)
        if _too_short(audio):
            return
        self._drop_speculation()
        cancel = threading.Event()
        turn = asyncio.ensure_future(self._turn_complete(audio)) if self._smart_turn is not None else None
        self._spec = _Speculation(audio, asyncio.ensure_future(self._transcribe(audio, cancel)), turn, cancel)
        self.speculations["started"] += 1

    def _drop_speculation(self) -> None:
        spec, self._spec = self._spec, None
        if spec is not None:
            spec.drop()
            self.speculations["dropped"] += 1

    # --- the turn ------------------------------------------------------------------------------------------------
    async def _transcribe(self, audio: bytes, cancel: threading.Event | None = None) -> SttResult:
        samples = trim_leading_silence(np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0)
        samples = np.concatenate([samples, np.zeros(int(TAIL_SILENCE_S * SAMPLE_RATE), dtype=np.float32)])
        kwargs = dict(languages=self._languages, trimmed=self._trimmed, preferred=self._default_language, cancel=cancel)
        if isinstance(self._engine, WhisperPool):  # the product's case: the pool's own bounded threads
            return await self._engine.transcribe_async(samples, **kwargs)
        return await asyncio.to_thread(self._engine.transcribe, samples, **kwargs)

    async def _turn_complete(self, audio: bytes) -> bool:
        if self._smart_turn is None:
            return True
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        samples = samples[-int(SMART_TURN_MAX_S * SAMPLE_RATE):]
        try:
            result = await asyncio.to_thread(self._smart_turn._predict_endpoint, samples)
        except Exception:  # the turn model must never stall a call; fall back to "complete"
            log.exception("smart turn failed")
            return True
        return result.get("prediction") == 1

    async def _finalize(self, audio: bytes, speech_end: float, turn_verdict: asyncio.Future | None = None) -> None:
        tracker = self._tracker
        if _too_short(audio):
            self._reset_turn()
            return
        tracker.start("reply", origin=speech_end)
        complete = await (turn_verdict if turn_verdict is not None else self._turn_complete(audio))
        if not complete:
            await asyncio.sleep(await self._incomplete_wait())  # cancelled if the caller goes on speaking
        tracker.mark("end_of_turn", turn_complete=complete, speculative=turn_verdict is not None)
        early_used = self._early_task is not None
        result = None
        if early_used:
            try:
                result = await self._early_task
            except TranscriptionCancelled:  # cannot happen for an adopted speculation; never lose the turn
                early_used = False
        if result is None:
            result = await self._transcribe(audio)
        tracker.mark("stt", stt_window=result.window, early_stt=early_used)
        self.results.append(result)
        self._reset_turn()
        await self.broadcast_frame(UserStoppedSpeakingFrame)
        lang = Language(result.language) if result.language in {"de", "en"} else None
        await self.push_frame(TranscriptionFrame(text=result.text, user_id="caller",
                                                 timestamp=datetime.now(timezone.utc).isoformat(),
                                                 language=lang, result=result, finalized=True))

    async def _incomplete_wait(self) -> float:
        """How long to wait for more speech after Smart Turn said "incomplete".

        Smart Turn judges prosody only; the recogniser's punctuation is a second opinion. When the early transcript
        is a finished question ("Wann haben Sie geöffnet?") the turn ends now (a caller who asked a question waits
        for the answer); a finished statement gets a short wait; otherwise the caller gets the full
        :data:`INCOMPLETE_WAIT_S` to go on ("Ich möchte ... einen Termin").
        """
        start = time.monotonic()
        early = self._early_task
        if early is None:
            return self._incomplete_wait_s
        done, _ = await asyncio.wait({early}, timeout=self._incomplete_wait_s)
        remaining = max(0.0, self._incomplete_wait_s - (time.monotonic() - start))
        if early in done and not early.cancelled() and early.exception() is None:
            text = early.result().text
            if is_question(text):
                return 0.0
            if looks_finished(text):
                return min(remaining, FINISHED_SENTENCE_WAIT_S)
        return remaining

    def _reset_turn(self) -> None:
        self._in_turn = False
        self._turn = bytearray()
        self._early_task = None
        self._finalize_task = None

    async def _cancel_finalize(self) -> None:
        self._drop_speculation()
        task, self._finalize_task = self._finalize_task, None
        if task is not None and not task.done():
            await self.cancel_task(task)
        early, self._early_task = self._early_task, None
        if early is not None and not early.done():
            early.cancel()  # the thread finishes on its own; its result is simply ignored
