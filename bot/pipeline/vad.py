"""Silero VAD that also reports a *short* pause, before the VAD's own stop decision.

Why: pipecat's ``VADUserStoppedSpeakingFrame`` comes ``stop_secs`` (0.2 s) after the last voiced Silero frame, and
only then could the recogniser and Smart Turn start. Silero already knows after ~0.1 s that the caller went quiet;
this processor broadcasts :class:`CallerPausedFrame` at that moment so the STT service can start the final
transcription speculatively, and :class:`CallerResumedFrame` when the caller speaks again before the VAD stop (the
speculative work is then thrown away). The VAD's start/stop frames are unchanged, so turn-taking is exactly
pipecat's; only the work behind it starts earlier.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.frames.frames import Frame, InputAudioRawFrame, SystemFrame
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection

# Silence after which the final transcription starts speculatively: three 32 ms Silero windows (the VAD itself
# stops after 0.2 s = six windows).
PAUSE_SECS = 0.09


@dataclass
class CallerPausedFrame(SystemFrame):
    """The caller has been quiet for ``silence_s`` (shorter than the VAD stop) after speech."""

    silence_s: float = 0.0


@dataclass
class CallerResumedFrame(SystemFrame):
    """The caller spoke again after a :class:`CallerPausedFrame`, before the VAD decided speech had stopped."""


class PauseAwareVADProcessor(VADProcessor):
    """pipecat's ``VADProcessor`` plus :class:`CallerPausedFrame` / :class:`CallerResumedFrame`.

    The pause is read from the analyzer's own state machine (Silero confidence and volume per 32 ms window), so it
    means exactly "Silero heard no speech for ``pause_secs``" and every VAD stop is preceded by one pause frame.
    """

    def __init__(self, *, vad_analyzer, pause_secs: float = PAUSE_SECS, **kwargs):
        super().__init__(vad_analyzer=vad_analyzer, **kwargs)
        self._analyzer = vad_analyzer
        self._pause_secs = pause_secs
        self._paused = False

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputAudioRawFrame):
            return
        state = self._analyzer._vad_state
        if state == VADState.STOPPING:
            window_s = self._analyzer.num_frames_required() / self._analyzer.sample_rate
            silence = self._analyzer._vad_stopping_count * window_s
            if not self._paused and silence >= self._pause_secs - 1e-6:
                self._paused = True
                await self.broadcast_frame(CallerPausedFrame, silence_s=silence)
        elif state == VADState.SPEAKING and self._paused:
            self._paused = False
            await self.broadcast_frame(CallerResumedFrame)
        elif state == VADState.QUIET:
            self._paused = False  # the VAD stop came (or the blip was too short to start a turn)
