"""German hearing on the phone (issue 14): no decoder loop reaches the brain, the company's language holds on short
or unclear utterances, and a clearly English caller is still followed. Real clips from ../shared/data and German
callers spoken by MBROLA / pico (voices the product does not use) through a simulated 8 kHz µ-law line."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bot.pipeline.whisper_engine import (MIN_SWITCH_S, collapse_repeats, pick_language, repetition_problem,
                                         voiced_seconds)

# Decoder loops as whisper-base produced them: issue 14's report, and loops seen in the trimmed window on the
# benchmark's clips (evals/stt_phone_de.py, the guard's log lines).
REAL_LOOPS = [
    ("We are going to have a new, new, new, new, new, new, new, new, new, new, new, new, new, new, …",
     "We are going to have a new"),
    ("Der hinter diesem Portal liegende Raum wurde als Leichenhalle genutzt. Der hinter diesem Portal liegende Raum "
     "wurde als Leichenhalle genutzt. Der hinter diesem Portal liegende Raum wurde als",
     "Der hinter diesem Portal liegende Raum wurde als Leichenhalle genutzt."),
    ("Wie lange haben Sie am Samstag geöffnet? Wie lange haben Sie am Samstag geöffnet? Wie lange haben Sie am",
     "Wie lange haben Sie am Samstag geöffnet?"),
    ("die Praxis, die Praxis, die Praxis, die Praxis, die Praxis", "die Praxis"),
]


@pytest.mark.parametrize("looped,kept", REAL_LOOPS)
def test_a_decoder_loop_is_detected_and_collapsed_to_what_was_said(looped, kept):
    assert repetition_problem(looped) is not None
    collapsed = collapse_repeats(looped)
    assert repetition_problem(collapsed) is None
    assert collapsed.rstrip(".") == kept.rstrip(".")


@pytest.mark.parametrize("text", ["Ja ja, das passt.", "Wie lange haben Sie am Samstag geöffnet?", "Guten Tag.",
                                  "Mein Name ist Anna Schmidt, Schmidt mit dt."])
def test_normal_speech_is_not_a_loop_and_is_left_alone(text):
    assert repetition_problem(text) is None
    assert collapse_repeats(text) == text


def test_the_company_language_wins_ties_short_and_unclear_utterances():
    assert pick_language({"de": 0.5, "en": 0.5}, "de") == ("de", 0.5)
    assert pick_language({"de": 0.3, "en": 0.7}, "de", 3.0)[0] == "de"  # unclear
    assert pick_language({"de": 0.001, "en": 0.999}, "de", MIN_SWITCH_S - 0.1)[0] == "de"  # short ("Guten Tag.")
    assert pick_language({"de": 0.001, "en": 0.999}, "de", MIN_SWITCH_S + 0.1)[0] == "en"  # clear and long enough
    assert pick_language({"de": 0.999, "en": 0.001}, "en", 0.5)[0] == "en"  # an English company likewise


def test_voiced_seconds_measures_speech_not_the_silence_around_it():
    sr = 16000
    t = np.arange(sr) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    audio = np.concatenate([np.zeros(sr, np.float32), tone, np.zeros(2 * sr, np.float32)])
    assert voiced_seconds(audio) == pytest.approx(1.0, abs=0.05)


# --- real models, real clips ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine():
    from bot.pipeline import registry
    from bot.settings import Settings

    return registry.whisper_engine(Settings(_env_file=None))


def _voice(name):
    from evals import phone_audio

    if name not in phone_audio.available_voices():
        pytest.skip(f"German caller voice {name} not installed (Debian mbrola-de* / libttspico-utils)")
    return phone_audio


@pytest.mark.slow
@pytest.mark.parametrize("voice", ["mb-de5", "mb-de6", "pico-de-DE"])
@pytest.mark.parametrize("line", ["Guten Tag.", "Wie lange haben Sie am Samstag geöffnet?"])
def test_german_callers_over_8khz_stay_german_and_never_loop(engine, voice, line):
    phone_audio = _voice(voice)
    audio = phone_audio.telephone(phone_audio.synthesise(line, voice))
    result = engine.transcribe(audio, languages=("de", "en"), preferred="de")
    assert result.language == "de", (result.text, result.language_scores)
    assert result.text and repetition_problem(result.text) is None


@pytest.mark.slow
def test_the_recorded_german_caller_over_8khz_stays_german(engine, shared_data):
    from evals import phone_audio
    from bot.runtime.wav_call import load_audio

    if not shutil.which("sox"):
        pytest.skip("sox not installed")
    audio = phone_audio.telephone(load_audio(shared_data / "speech_picovoice_leopard" / "test_de.wav"))
    result = engine.transcribe(audio, languages=("de", "en"), preferred="de")
    assert result.language == "de"
    assert "portal" in result.text.lower() and repetition_problem(result.text) is None


@pytest.mark.slow
def test_a_clearly_english_caller_is_still_followed_at_a_german_company(engine, shared_data):
    from bot.runtime.wav_call import load_audio

    for path in (shared_data / "speech_picovoice_leopard" / "test.wav",
                 shared_data / "speech_asterisk_en_8k" / "wav" / "privacy-prompt.wav"):
        result = engine.transcribe(load_audio(path), languages=("de", "en"), preferred="de")
        assert result.language == "en", (path.name, result.text, result.language_scores)
