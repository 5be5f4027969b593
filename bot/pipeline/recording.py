"""The call's audio recording, when the company records calls: a stereo WAV (caller left, bot right) on disk.

Built on pipecat's ``AudioBufferProcessor``, which keeps the two tracks aligned in time (it pads the silent side),
but written to disk second by second instead of held in memory: a long call costs no RAM and a crash loses at most
the last second. The caller can object at any moment (:class:`bot.brain.types.StopRecording`): :meth:`discard`
stops the recording and deletes the file before the bot confirms it, and nothing is written afterwards.

Pinned to pipecat 1.14: the flush hook overrides ``AudioBufferProcessor._call_on_audio_data_handler``, because the
public ``on_audio_data`` event runs its handlers as unordered tasks, and a WAV needs its chunks in order.
"""

from __future__ import annotations

import asyncio
import logging
import wave
from collections.abc import Callable
from pathlib import Path

from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
CHUNK_S = 1.0  # audio per write


class CallAudioRecorder(AudioBufferProcessor):
    """Streams the call's audio to ``path``; ``on_saved(path)`` is called once the file is complete."""

    def __init__(self, path: Path, *, on_saved: Callable[[Path], None] | None = None,
                 sample_rate: int = SAMPLE_RATE, **kwargs):
        super().__init__(sample_rate=sample_rate, num_channels=2, buffer_size=int(sample_rate * 2 * CHUNK_S),
                         auto_start_recording=True, **kwargs)
        self.path = Path(path)
        self._on_saved = on_saved
        self._wav: wave.Wave_write | None = None
        self.discarded = False
        self.closed = False
        self.frames_written = 0
        self._saved: asyncio.Future | None = None  # the on_saved report, running off the loop

    async def _call_on_audio_data_handler(self):  # pipecat 1.14: called with both tracks buffered and aligned
        if not self._recording or self.discarded:
            return
        if len(self._user_audio_buffer) == 0 and len(self._bot_audio_buffer) == 0:
            return
        self._align_track_buffers()
        self._write(self.merge_audio_buffers())

    def _write(self, interleaved: bytes) -> None:
        if self._wav is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wav = wave.open(str(self.path), "wb")
            self._wav.setnchannels(2)
            self._wav.setsampwidth(2)
            self._wav.setframerate(self.sample_rate)
        self._wav.writeframes(interleaved)
        self.frames_written += len(interleaved) // 4

    async def stop_recording(self):
        await super().stop_recording()
        self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._wav is not None:
            self._wav.close()
            self._wav = None
            if not self.discarded and self._on_saved is not None:
                self._saved = asyncio.get_running_loop().run_in_executor(None, self._report_saved)

    def _report_saved(self) -> None:
        try:
            self._on_saved(self.path)  # a database write: off the event loop
        except Exception:  # the file is on disk; a lost pointer must not break the call's end
            log.exception("could not record where the call's audio is")

    async def discard(self) -> None:
        """The caller objected: stop now and delete what was recorded (nothing is kept, nothing more written)."""
        self.discarded = True
        self._recording = False
        if self._wav is not None:
            self._wav.close()
            self._wav = None
        self.closed = True
        self.path.unlink(missing_ok=True)
