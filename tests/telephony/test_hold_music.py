"""Hold music: the generated default loop and a company's own WAV file (bot.telephony.hold_music)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from bot.telephony.hold_music import HoldMusicError, generated_loop, hold_music, load_wav


def test_the_generated_loop_is_audible_quiet_and_the_same_every_time() -> None:
    pcm = np.frombuffer(generated_loop(8000), dtype="<i2").astype(float)
    assert 4.0 <= len(pcm) / 8000 <= 10.0  # a loop of a few seconds
    rms_db = 20 * np.log10(np.sqrt((pcm ** 2).mean()) / 32768)
    assert -35 < rms_db < -15, rms_db  # clearly there, well below speech level
    assert np.abs(pcm).max() < 32767 * 0.5  # never clipped
    assert (np.abs(pcm[:80]) > 0).any()  # the seam: the last notes ring into the start, no silent gap
    spectrum = np.abs(np.fft.rfft(pcm))
    peak_hz = np.argmax(spectrum) * 8000 / len(pcm)
    assert 200 < peak_hz < 1200, peak_hz  # music in the telephone band, not a hum or a hiss
    assert generated_loop(8000) == hold_music(None, 8000)


def test_a_wav_file_is_mixed_down_and_resampled(tmp_path: Path) -> None:
    path = tmp_path / "music.wav"
    t = np.arange(44100) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(2)
        wf.setsampwidth(2)
        wf.setframerate(44100)
        wf.writeframes(np.repeat(tone, 2).tobytes())  # the same tone on both channels
    pcm = np.frombuffer(load_wav(path, 8000), dtype="<i2")
    assert abs(len(pcm) - 8000) <= 2  # one second at 8 kHz
    peak_hz = np.argmax(np.abs(np.fft.rfft(pcm))) * 8000 / len(pcm)
    assert abs(peak_hz - 440) < 5


@pytest.mark.parametrize("content,why", [(None, "does not exist"), (b"not a wav", "not a readable WAV"),
                                         ("8bit", "16-bit")])
def test_an_unusable_file_is_a_clear_error(tmp_path: Path, content, why: str) -> None:
    path = tmp_path / "music.wav"
    if content == "8bit":
        with wave.open(str(path), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(1)
            wf.setframerate(8000)
            wf.writeframes(b"\x80" * 800)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(HoldMusicError, match=why):
        hold_music(path)


async def test_the_sip_carrier_refuses_to_start_with_a_broken_hold_music_file(tmp_path: Path) -> None:
    """At start, naming the setting — not in the middle of a caller's transfer."""
    from bot.runtime.carrier_services import CallServices
    from bot.runtime.resolver import StaticResolver
    from bot.settings import Settings
    from bot.telephony.sip.ua import SipUserAgent

    settings = Settings(_env_file=None, data_dir=tmp_path, sip_listen="127.0.0.1", sip_port=0,
                        hold_music=tmp_path / "missing.wav")
    with pytest.raises(HoldMusicError, match="RECEPTIONIST_HOLD_MUSIC"):
        await SipUserAgent(settings, CallServices(resolver=StaticResolver([]))).start()
