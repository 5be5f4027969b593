"""The German voices: each installed one speaks, a company's choice is honoured, a missing one falls back loudly."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bot import voices
from bot.pipeline.tts import LocalTTSService, get_synth, resolve_voice
from bot.settings import Settings


@pytest.mark.parametrize("voice", [v.id for v in voices.installed_voices("de")])
def test_every_installed_german_voice_speaks(settings, voice: str) -> None:
    synth = get_synth(settings, "de", voice)
    audio = synth.synthesize("Guten Tag, wie kann ich Ihnen helfen?")
    pcm = np.frombuffer(audio.pcm, dtype=np.int16)
    assert 1.0 < audio.duration_s < 6.0 and np.abs(pcm).max() > 1000
    assert synth.voice_id != get_synth(settings, "de", voices.ESPEAK).voice_id or voice == voices.ESPEAK


def test_the_debian_voices_are_installed() -> None:
    """`make install` brings them; without them the default would silently be espeak-ng again."""
    assert {"pico", "mbrola-de6"} <= {v.id for v in voices.installed_voices("de")}


def test_default_german_voice_is_the_measured_one_and_piper_setting_still_wins(settings, tmp_path) -> None:
    assert settings.voice_de == "pico"
    assert resolve_voice(settings, "de") == ("pico", None)
    assert resolve_voice(settings, "de", "mbrola-de2") == ("mbrola-de2", None)
    model = tmp_path / "de_DE-test-medium.onnx"
    model.write_bytes(b"x")
    Path(f"{model}.json").write_text("{}")
    with_piper = settings.model_copy(update={"piper_voice_de": model})
    assert resolve_voice(with_piper, "de") == ("piper", model.resolve())  # RECEPTIONIST_PIPER_VOICE_DE keeps working
    assert resolve_voice(with_piper, "de", "pico") == ("pico", None)  # a company's explicit choice still counts


def test_unknown_default_voice_is_a_clear_start_error(monkeypatch) -> None:
    monkeypatch.setenv("RECEPTIONIST_VOICE_DE", "thorsten")
    with pytest.raises(ValidationError, match="unknown German voice 'thorsten'; choose one of espeak-ng, pico"):
        Settings()


def test_a_chosen_voice_that_is_not_installed_falls_back_to_espeak_with_the_fix(settings, monkeypatch, caplog) -> None:
    monkeypatch.setattr(voices, "MBROLA_DIR", voices.Path("/nonexistent"))
    with caplog.at_level(logging.WARNING):
        assert resolve_voice(settings, "de", "mbrola-de3") == (voices.ESPEAK, None)
    assert "apt-get install espeak-ng mbrola mbrola-de3" in caplog.text


def test_tts_service_speaks_the_company_voice(settings) -> None:
    tts = LocalTTSService(settings, languages=("de",), default_language="de", company_voices={"de": "mbrola-de6"})
    assert tts._synths["de"].voice_id.startswith("espeak-ng:mb-de6:")
    default = LocalTTSService(settings, languages=("de",), default_language="de")
    assert default._synths["de"].voice_id == "pico:de-DE"
