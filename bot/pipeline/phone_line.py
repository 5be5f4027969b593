"""An in-process "phone line" for pipecat: caller audio paced in real time in, bot audio recorded out.

pipecat has no file transport, and VAD/turn detection misbehave on audio pushed faster than real time, so the
input side sends one 20 ms frame every 20 ms (silence when the caller says nothing, as a phone line does) and the
output side consumes bot audio at playback speed, keeping a timeline of both directions.

A caller is a list of steps (:class:`Say`, :class:`Pause`, :class:`Keys`, :class:`WaitForBot`,
:class:`WhenBotSpeaks`, :class:`Mark`, :class:`HangUpStep`); :class:`PhoneLine` plays them and records what the
bot said.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    OutputAudioRawFrame,
    StartFrame,
    TTSAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

FRAME_S = 0.02
IN_RATE = 16000


# --- the caller's script ---------------------------------------------------------------------------------------------
@dataclass
class Say:
    """Caller speech: int16 mono PCM at 16 kHz, followed by ``pause_s`` of silence."""

    pcm: bytes
    pause_s: float = 1.5
    label: str = ""


@dataclass
class Pause:
    seconds: float


@dataclass
class Keys:
    """Keypad digits, ``gap_s`` apart (e.g. ``"0"`` or ``"0171234#"``)."""

    digits: str
    gap_s: float = 0.25


@dataclass
class WaitForBot:
    """Wait until the bot has spoken and then been quiet for ``quiet_s`` (or ``timeout_s`` passed)."""

    quiet_s: float = 0.6
    timeout_s: float = 30.0


@dataclass
class WhenBotSpeaks:
    """Wait until bot audio is playing, then ``after_s`` more (to talk over the bot: barge-in)."""

    after_s: float = 0.4
    timeout_s: float = 30.0


@dataclass
class Mark:
    """No sound: stamps ``label`` on the line's timeline (``what="mark"``), so a runner can tell which part of
    its script the bot was answering."""

    label: str


@dataclass
class HangUpStep:
    """The caller hangs up."""


@dataclass
class LineEvent:
    t: float  # seconds since the call connected
    what: str  # "caller_speech_start", "caller_speech_end", "keys", "bot_audio_start", "bot_audio_end", "hangup"
    detail: str = ""


@dataclass
class LineRecord:
    """Both directions on one timeline (monotonic seconds since connect)."""

    connected_at: float = 0.0
    events: list[LineEvent] = field(default_factory=list)
    bot_pcm: bytearray = field(default_factory=bytearray)  # what the caller heard, in real time (with silences)
    bot_rate: int = 16000

    def add(self, what: str, detail: str = "", at: float | None = None) -> None:
        now = time.monotonic() if at is None else at
        self.events.append(LineEvent(now - self.connected_at, what, detail))

    def times(self, what: str) -> list[float]:
        return [e.t for e in self.events if e.what == what]


# --- transport ---------------------------------------------------------------------------------------------------
class _CallerInput(BaseInputTransport):
    def __init__(self, line: PhoneLine, params: TransportParams):
        super().__init__(params)
        self._line = line
        self._feeder: asyncio.Task | None = None

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)
        self._line.record.connected_at = time.monotonic()
        self._feeder = self.create_task(self._line._play(self), name="caller-feeder")

    async def stop(self, frame: EndFrame):
        await self._stop_feeder()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame):
        await self._stop_feeder()
        await super().cancel(frame)

    async def _stop_feeder(self):
        if self._feeder is not None:
            await self.cancel_task(self._feeder)
            self._feeder = None

    async def send_pcm_frame(self, pcm: bytes) -> None:
        await self.push_audio_frame(InputAudioRawFrame(audio=pcm, sample_rate=IN_RATE, num_channels=1))

    async def send_key(self, digit: str) -> None:
        await self.push_frame(InputDTMFFrame(button=KeypadEntry(digit)))


class _BotOutput(BaseOutputTransport):
    """Consumes bot audio at playback speed (as a phone would) and records it on the line's timeline."""

    def __init__(self, line: PhoneLine, params: TransportParams):
        super().__init__(params)
        self._line = line
        self._next_t: float | None = None
        self._in_speech = False
        self._last_speech_t = 0.0

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        line, rec = self._line, self._line.record
        rec.bot_rate = frame.sample_rate
        now = time.monotonic()
        if self._next_t is None or self._next_t < now:
            self._next_t = now
        # Keep the timeline continuous: pad the gap since the last chunk with silence.
        expected = int(round((now - rec.connected_at) * frame.sample_rate)) * 2
        if len(rec.bot_pcm) < expected:
            rec.bot_pcm += bytes(expected - len(rec.bot_pcm))
        rec.bot_pcm += frame.audio
        speech = isinstance(frame, TTSAudioRawFrame) or _loud(frame.audio)
        if speech:
            if not self._in_speech or now - self._last_speech_t > 0.3:
                if self._in_speech:
                    rec.add("bot_audio_end", at=self._last_speech_t)
                self._in_speech = True
                rec.add("bot_audio_start", at=now)
                line._bot_audio.set()
            self._last_speech_t = now + len(frame.audio) / 2 / frame.sample_rate
        line._last_bot_audio = self._last_speech_t
        duration = len(frame.audio) / 2 / frame.sample_rate
        self._next_t += duration
        delay = self._next_t - time.monotonic() - duration  # keep at most one chunk ahead of playback
        if delay > 0:
            await asyncio.sleep(delay)
        return True


def _loud(pcm: bytes) -> bool:
    if not pcm:
        return False
    return int(np.abs(np.frombuffer(pcm, dtype=np.int16)).max()) > 300


class PhoneLine(BaseTransport):
    """The in-process transport: plays a caller script into the pipeline and records the bot."""

    def __init__(self, steps: list, *, out_sample_rate: int = 16000, tail_s: float = 1.0):
        super().__init__()
        self.steps = list(steps)
        self.record = LineRecord()
        self._tail_s = tail_s
        params = TransportParams(audio_in_enabled=True, audio_in_sample_rate=IN_RATE, audio_out_enabled=True,
                                 audio_out_sample_rate=out_sample_rate, audio_out_end_silence_secs=0)
        self._in = _CallerInput(self, params)
        self._out = _BotOutput(self, params)
        self._bot_audio = asyncio.Event()
        self._last_bot_audio = 0.0
        self.finished = asyncio.Event()
        self.hung_up = False

    def input(self) -> _CallerInput:
        return self._in

    def output(self) -> _BotOutput:
        return self._out

    def bot_quiet_for(self) -> float:
        return time.monotonic() - self._last_bot_audio if self._last_bot_audio else float("inf")

    async def _silence(self, src: _CallerInput, seconds: float) -> None:
        await self._stream(src, bytes(int(seconds * IN_RATE) * 2))

    async def _stream(self, src: _CallerInput, pcm: bytes) -> None:
        step = int(FRAME_S * IN_RATE) * 2
        start = time.monotonic()
        for i, offset in enumerate(range(0, len(pcm), step)):
            chunk = pcm[offset:offset + step]
            if len(chunk) < step:
                chunk += bytes(step - len(chunk))
            await src.send_pcm_frame(chunk)
            delay = start + (i + 1) * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def _play(self, src: _CallerInput) -> None:
        rec = self.record
        for step in self.steps:
            if isinstance(step, Say):
                rec.add("caller_speech_start", step.label)
                await self._stream(src, step.pcm)
                rec.add("caller_speech_end", step.label)
                self._bot_audio.clear()  # what counts from here is the bot's answer to this utterance
                await self._silence(src, step.pause_s)
            elif isinstance(step, Pause):
                await self._silence(src, step.seconds)
            elif isinstance(step, Keys):
                for digit in step.digits:
                    await src.send_key(digit)
                    rec.add("keys", digit)
                    await self._silence(src, step.gap_s)
            elif isinstance(step, WaitForBot):
                deadline = time.monotonic() + step.timeout_s
                while time.monotonic() < deadline:
                    if self._bot_audio.is_set() and self.bot_quiet_for() >= step.quiet_s:
                        break
                    await self._silence(src, FRAME_S)
                self._bot_audio.clear()
            elif isinstance(step, WhenBotSpeaks):
                deadline = time.monotonic() + step.timeout_s
                self._bot_audio.clear()
                while time.monotonic() < deadline and not self._bot_audio.is_set():
                    await self._silence(src, FRAME_S)
                await self._silence(src, step.after_s)
            elif isinstance(step, Mark):
                rec.add("mark", step.label)
            elif isinstance(step, HangUpStep):
                rec.add("hangup")
                self.hung_up = True
                self.finished.set()
                await src.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)
                return
        await self._silence(src, self._tail_s)
        self.finished.set()
        # Script over: keep the line open with silence (the bot may still hang up or re-prompt).
        while True:
            await self._silence(src, 0.2)
