"""Per-turn latency probes: end of caller speech -> end of turn decided -> STT done -> brain done -> first audio.

The stages are stamped by the processors that see them (STT service, brain adapter, the audio tap after TTS) on one
:class:`LatencyTracker` per call; when the first bot audio of a turn leaves the pipeline, the tracker hands a
finished :class:`TurnLatency` to the callback (the store records it, the benchmark collects it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


@dataclass
class TurnLatency:
    """Milliseconds from the end of the caller's speech (``kind="greeting"``: from connect) to each stage."""

    turn: int
    kind: str  # "greeting" or "reply"
    intent: str = ""
    end_of_turn_ms: float | None = None  # Smart Turn verdict (or timeout) known
    stt_ms: float | None = None  # transcript available
    brain_ms: float | None = None  # BotTurn decided (pre-speech actions done)
    first_audio_ms: float | None = None  # first bot audio handed to the transport: the voice-to-voice latency
    stt_window: str = ""  # trimmed / trimmed-retry / full / fallback
    early_stt: bool = False  # the transcript started at the first silence was reused
    speculative: bool = False  # ... and it was started at the short pause, before the VAD stop
    turn_complete: bool | None = None  # Smart Turn's verdict (False: we waited for more speech)
    cached_audio: bool = False  # the first sentence came from the TTS cache

    def as_dict(self) -> dict:
        return asdict(self)


class LatencyTracker:
    """Collects the stage stamps of the current turn (monotonic clock)."""

    def __init__(self, on_turn: Callable[[TurnLatency], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self._on_turn = on_turn
        self.clock = clock
        self.turns: list[TurnLatency] = []
        self._origin: float | None = None
        self._current: TurnLatency | None = None

    def start(self, kind: str, origin: float | None = None) -> None:
        """A new turn whose latency counts from ``origin`` (end of caller speech, or connect)."""
        self._origin = self.clock() if origin is None else origin
        self._current = TurnLatency(turn=len(self.turns) + 1, kind=kind)

    def _ms(self) -> float | None:
        return None if self._origin is None else (self.clock() - self._origin) * 1000

    def mark(self, stage: str, **info) -> None:
        if self._current is None:
            return
        if stage:
            setattr(self._current, f"{stage}_ms", self._ms())
        for key, value in info.items():
            setattr(self._current, key, value)

    def cancel(self) -> None:
        """The turn produced no audio (empty reply, barge-in): drop it."""
        self._current = None

    def first_audio(self) -> None:
        if self._current is None:
            return
        self._current.first_audio_ms = self._ms()
        done, self._current = self._current, None
        self.turns.append(done)
        if self._on_turn:
            self._on_turn(done)

    @property
    def pending(self) -> bool:
        return self._current is not None and self._current.brain_ms is not None


class FirstAudioTap(FrameProcessor):
    """Sits between TTS and the output transport; stamps the first audio chunk of each answered turn."""

    def __init__(self, tracker: LatencyTracker, **kwargs):
        super().__init__(**kwargs)
        self._tracker = tracker

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and self._tracker.pending:
            self._tracker.first_audio()
        await self.push_frame(frame, direction)
