"""What the caller hears while the bot rings the secretary (warm transfer): a quiet loop, never silence.

Silence on hold makes callers hang up ("is anyone there?"); a ringback tone suggests nobody answers. The default is a
melody generated here — four soft arpeggiated chords, 6 s, peaks near -17 dBFS — so nothing is downloaded and no
licence applies. A company's own music can be given as a WAV file (``RECEPTIONIST_HOLD_MUSIC``); music played on
hold in public may need a GEMA licence, which is why the generated loop is the default.
"""

from __future__ import annotations

import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.telephony.sip.rtp import resample

# C major - A minor - F major - G major, as MIDI note numbers, each chord arpeggiated up and down once
_CHORDS = ((60, 64, 67, 72), (57, 60, 64, 69), (53, 57, 60, 65), (55, 59, 62, 67))
_NOTE_S = 0.25
_LEVEL = 0.1  # peak of one note: about -20 dBFS, with overlapping decays staying well below clipping


class HoldMusicError(ValueError):
    """The configured hold-music file cannot be used (missing, not a WAV file, not 16-bit PCM)."""


def _note(midi: int, rate: int, length_s: float) -> np.ndarray:
    t = np.arange(int(rate * length_s)) / rate
    freq = 440.0 * 2 ** ((midi - 69) / 12)
    tone = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(4 * np.pi * freq * t)  # a touch of the octave: warmer
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t / 0.35)  # 10 ms attack, a piano-like decay
    return tone * envelope


@lru_cache(maxsize=4)
def generated_loop(rate: int = 8000) -> bytes:
    """The default loop as 16-bit mono PCM at ``rate``; the same bytes every time (cached)."""
    step = int(rate * _NOTE_S)
    pattern = [note for chord in _CHORDS for note in (*chord, *reversed(chord[1:-1]))]
    out = np.zeros(step * len(pattern) + rate, dtype=np.float64)
    for i, midi in enumerate(pattern):
        note = _note(midi, rate, 1.0)
        out[i * step:i * step + len(note)] += note
    tail = out[step * len(pattern):]
    out = out[:step * len(pattern)]
    out[:len(tail)] += tail  # the last notes ring on into the loop's start: no click at the seam
    out *= _LEVEL / 1.3
    return (np.clip(out, -1, 1) * 32767).astype("<i2").tobytes()


def load_wav(path: Path, rate: int = 8000) -> bytes:
    """A WAV file as 16-bit mono PCM at ``rate`` (stereo is mixed down), or :class:`HoldMusicError` saying why not."""
    try:
        with wave.open(str(path), "rb") as wf:
            channels, width, src = wf.getnchannels(), wf.getsampwidth(), wf.getframerate()
            frames = wf.readframes(wf.getnframes())
    except FileNotFoundError:
        raise HoldMusicError(f"hold music {path} does not exist (RECEPTIONIST_HOLD_MUSIC)") from None
    except (wave.Error, EOFError) as exc:
        raise HoldMusicError(f"hold music {path} is not a readable WAV file: {exc}") from None
    if width != 2:
        raise HoldMusicError(f"hold music {path} is {8 * width}-bit; it must be 16-bit PCM")
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype("<i2")
    if not len(samples):
        raise HoldMusicError(f"hold music {path} is empty")
    pcm, _ = resample(samples.tobytes(), src, rate, None)
    return pcm


def hold_music(path: Path | None, rate: int = 8000) -> bytes:
    """The loop to play on hold: the configured file, else the generated melody."""
    return load_wav(path, rate) if path else generated_loop(rate)

