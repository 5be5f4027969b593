"""Caller audio for carrier tests: synthesised with espeak-ng or taken from ../shared/data, as 8 kHz µ-law / PCM."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

from evals.drivers.ulaw import ULAW_SILENCE, rms, ulaw_decode  # noqa: F401 - used by the carrier tests


def espeak_wav(text: str, path: Path, voice: str = "en-us", rate: int = 140) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
    return path


def to_ulaw_8k(wav_path: Path, out: Path) -> bytes:
    """Any audio file -> raw 8 kHz mono µ-law bytes, the way a telephone line carries it (sox)."""
    subprocess.run(["sox", str(wav_path), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", str(out)], check=True)
    return out.read_bytes()


def caller_ulaw(text: str, tmp: Path, name: str) -> bytes:
    return to_ulaw_8k(espeak_wav(text, tmp / f"{name}.wav"), tmp / f"{name}.ul")


def caller_wav_16k(parts: list[tuple[str, float]], path: Path, tmp: Path) -> Path:
    """A 16-bit 16 kHz WAV of ``(text, silence_before_s)`` parts, for Chromium's fake microphone."""
    chunks: list[np.ndarray] = []
    for i, (text, pause) in enumerate(parts):
        chunks.append(np.zeros(int(16000 * pause), dtype=np.int16))
        raw = espeak_wav(text, tmp / f"part{i}.wav")
        resampled = tmp / f"part{i}_16k.wav"
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(resampled)], check=True)
        with wave.open(str(resampled)) as w:
            chunks.append(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16))
    chunks.append(np.zeros(16000 * 3, dtype=np.int16))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.concatenate(chunks).tobytes())
    return path
