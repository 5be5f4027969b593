"""16-bit mono PCM as a WAV file: the one place the product writes WAV headers (hold music for Twilio's ``<Play>``,
the voice sample behind the settings page's "listen" button, the recordings of scripted test calls)."""

from __future__ import annotations

import io
import wave


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    """``pcm`` (16-bit little-endian mono at ``rate`` Hz) wrapped as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm)
    return buffer.getvalue()
