"""The voice benchmark's comparison: formatting differences vanish, misheard words stay."""

from __future__ import annotations

import pytest

from evals.tts_voices import demo_texts, normalise, run


@pytest.mark.parametrize("written, heard", [
    ("Das kostet 12 Euro 50.", "Das kostet 12,50 €."),
    ("um 8 Uhr 30", "um 8:30 Uhr"),
    ("praxis, at, praxis Bindestrich berger Punkt D E", "Praxis at praxis-berger.de"),
    ("null drei null, fünf fünf fünf", "030 555"),
    ("1250 Plätze", "1.250 Plätze"),
])
def test_formatting_is_not_an_error(written: str, heard: str) -> None:
    assert normalise(written) == normalise(heard)


def test_misheard_words_still_differ() -> None:
    assert normalise("Montag bis Freitag") != normalise("Montag ist Freitag")
    assert normalise("12 Euro 50") != normalise("12 Euro 15")


def test_the_benchmark_speaks_greeting_and_twenty_answers() -> None:
    texts = demo_texts(20)
    assert len(texts) == 21 and texts[0].startswith("Hausarztpraxis Dr. Berger")


@pytest.mark.slow
def test_a_small_run_reports_every_figure_with_espeak_as_baseline() -> None:
    report = run(2, False, ["pico"])
    first, pico = report["voices"]
    assert first["voice"] == "espeak-ng" and pico["voice"] == "pico"
    for key in ("wer", "rtf_median", "rtf_p95", "first_audio_ms_median", "first_audio_ms_p95"):
        assert pico[key] >= 0
    assert pico["wer"] < first["wer"]
