"""German caller audio for evals: voices the product does not speak with, and a simulated telephone line.

Why a module of its own: the German hearing benchmark (:mod:`evals.stt_phone_de`) and the audio smoke suite
(:mod:`evals.drivers.audio`) need the same callers. The product speaks German with Piper; callers here are
espeak-ng's MBROLA German voices (Debian ``mbrola-de1`` ... ``mbrola-de7``) and SVOX pico (``libttspico-utils``),
called directly, so the recogniser is never tested on the voice it was tuned against.

The telephone line is *simulated*: optional white noise at a given SNR (relative to the voiced frames), then sox's
8 kHz G.711 µ-law (``sox in.wav -r 8000 -e u-law``, what a PSTN / Twilio media stream carries), then back to
16 kHz with soxr as the pipeline's input does.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
MBROLA_DE = ("mb-de1", "mb-de2", "mb-de3", "mb-de4", "mb-de5", "mb-de6", "mb-de7")
PICO_DE = "pico-de-DE"


def available_voices() -> list[str]:
    """The German caller voices installed on this machine (MBROLA voices need their Debian package)."""
    voices = []
    if shutil.which("espeak-ng") and shutil.which("mbrola"):
        for v in MBROLA_DE:
            if Path(f"/usr/share/mbrola/{v[3:]}").exists():
                voices.append(v)
    if shutil.which("pico2wave"):
        voices.append(PICO_DE)
    return voices


def _read(path: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32) if rate != SAMPLE_RATE else mono


def synthesise(text: str, voice: str) -> np.ndarray:
    """``text`` spoken by ``voice`` (see :func:`available_voices`), float32 mono 16 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "caller.wav"
        if voice == PICO_DE:
            cmd = ["pico2wave", "-l", "de-DE", "-w", str(out), text]
        else:
            cmd = ["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        audio = _read(out)
    peak = float(np.abs(audio).max()) or 1.0
    return (audio * (0.5 / peak)).astype(np.float32)  # a comparable level for every voice


def add_noise(audio: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """White noise at ``snr_db`` below the power of the voiced 20 ms frames (the silence would flatter the SNR)."""
    frame = int(0.02 * SAMPLE_RATE)
    n = len(audio) // frame
    power = np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) if n else np.array([np.mean(audio ** 2)])
    voiced = power[power > 0.1 * power.max()] if power.max() > 0 else power
    signal = float(np.mean(voiced)) if voiced.size else 0.0
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(signal / 10 ** (snr_db / 10)), len(audio))
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def telephone(audio: np.ndarray) -> np.ndarray:
    """``audio`` (16 kHz) through a simulated 8 kHz µ-law line (sox), back at 16 kHz."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(str(src), audio, SAMPLE_RATE, subtype="PCM_16")
        subprocess.run(["sox", str(src), "-r", "8000", "-e", "u-law", str(dst)], check=True, capture_output=True,
                       timeout=60)
        return _read(dst)


def band_filter(audio: np.ndarray, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """The telephone band (300-3400 Hz) only, via sox ``sinc``: a candidate pre-filter before Whisper."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(str(src), audio, SAMPLE_RATE, subtype="FLOAT")
        subprocess.run(["sox", str(src), str(dst), "sinc", f"{low_hz:g}-{high_hz:g}"], check=True,
                       capture_output=True, timeout=60)
        return _read(dst)


CONDITIONS = ("clean_16k", "phone_8k_ulaw", "phone_8k_ulaw_noise15db", "phone_8k_ulaw_bandpass")


def condition(audio: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """``audio`` as heard under the benchmark condition ``name`` (one of :data:`CONDITIONS`)."""
    if name == "clean_16k":
        return audio
    if name == "phone_8k_ulaw":
        return telephone(audio)
    if name == "phone_8k_ulaw_noise15db":
        return telephone(add_noise(audio, 15.0, seed))
    if name == "phone_8k_ulaw_bandpass":
        return band_filter(telephone(audio))
    raise ValueError(f"unknown condition {name!r}")
