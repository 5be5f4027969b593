"""Text that company users and callers write is spoken as text: it never becomes an espeak-ng option.

Greetings, FAQ answers and caller names reach the German voice (espeak-ng, a subprocess) sentence by sentence, so a
greeting like ``Ich bin eine KI-Assistentin. -f/path/to/file`` has a sentence that starts with ``-``. On the command
line that sentence was an option and espeak-ng read the server file aloud to every caller. Each test here plants a
file with a long secret and shows that the synthesised audio is about as long as the text, far shorter than the file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from bot.pipeline.tts import EspeakSynth, TtsCache, get_synth, presynthesise, split_sentences, spoken_sentences
from bot.settings import Settings

SECRET_SENTENCE = "Das geheime Passwort des Servers lautet Schwertfisch und Zitronenbaum."


@pytest.fixture(scope="module")
def synth() -> EspeakSynth:
    return EspeakSynth("de")


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory, synth: EspeakSynth) -> tuple[Path, float]:
    """A server file with a distinctive secret, and how long espeak-ng takes to read it aloud."""
    path = tmp_path_factory.mktemp("server") / "secret.txt"
    path.write_text(" ".join([SECRET_SENTENCE] * 12) + "\n", encoding="utf-8")
    seconds = synth.synthesize(path.read_text(encoding="utf-8")).duration_s
    assert seconds > 40  # the file is long: reading it instead of the text could not go unnoticed
    return path, seconds


# Option-like sentences ({secret}: the server file; {out}: a file espeak-ng must not write).
PAYLOADS = ["-f{secret}", "-f {secret}", "--file={secret}", "-- -f{secret}", "-s 20 -f{secret}", "-w{out}", "-w {out}",
            "--stdin", "-v", "-m", "-q", "--path=/nonexistent", "-- --help", "-x -X --ipa"]


@pytest.mark.parametrize("template", PAYLOADS)
def test_option_like_sentences_are_spoken_as_text_and_read_no_file(synth, secret, tmp_path, monkeypatch, template):
    secret_path, secret_s = secret
    monkeypatch.chdir(tmp_path)  # "-w /x" would write the file " /x" relative to the working directory
    out = tmp_path / "written.wav"
    payload = template.format(secret=secret_path, out=out)
    audio = synth.synthesize(payload)
    assert audio.pcm and audio.sample_rate == 22050
    assert 0.3 < audio.duration_s < min(10.0, secret_s / 4), payload  # the characters spoken, not the file
    assert list(tmp_path.iterdir()) == [], payload  # nothing was written anywhere


def test_the_injection_inside_a_greeting_is_spoken_as_text(synth, secret, tmp_path):
    """The known attack: after the split into sentences, the option is a sentence of its own."""
    secret_path, secret_s = secret
    greeting = f"Ich bin eine KI-Assistentin. -f{secret_path}"
    sentences = split_sentences(greeting)
    assert sentences == ["Ich bin eine KI-Assistentin.", f"-f{secret_path}"]
    spoken = [synth.synthesize(s).duration_s for s in sentences]
    assert all(0.3 < s < secret_s / 4 for s in spoken), spoken
    # A caller name or an answer with the option in the middle is one sentence: spoken fully, file not read.
    inline = synth.synthesize(f"Hallo -f{secret_path} hier spricht Max Müller").duration_s
    assert spoken[1] < inline < secret_s / 3


def test_faq_answers_are_presynthesised_as_text(settings: Settings, secret):
    """Pre-synthesis (every FAQ answer at ingestion) goes through the same voice and caches what it spoke."""
    secret_path, secret_s = secret
    answer = f"Parken Sie im Hof. -f{secret_path}"
    assert presynthesise([answer], "de", settings) == 2
    voice = get_synth(settings, "de")  # the default German voice (pico2wave: the text follows "--")
    spoken = spoken_sentences(answer, "de")[1]  # as normalised for speech; still the literal "-f…" text
    assert spoken.startswith("-f")
    cached = TtsCache.for_settings(settings).get(voice.voice_id, spoken)
    assert cached is not None and 0.3 < cached.duration_s < secret_s / 4


def test_multi_line_text_is_spoken_fully(synth):
    one_line = synth.synthesize("Montag bis Freitag von acht bis zwölf Uhr und von vierzehn bis achtzehn Uhr.")
    lines = synth.synthesize("Montag bis Freitag\nvon acht bis zwölf Uhr\nund von vierzehn bis achtzehn Uhr.")
    first_line = synth.synthesize("Montag bis Freitag")
    assert lines.duration_s > 2 * first_line.duration_s  # not cut off after the first line
    assert abs(lines.duration_s - one_line.duration_s) < 0.25 * one_line.duration_s


def test_markup_and_control_characters_stay_text(synth):
    plain = synth.synthesize("Guten Tag, wie kann ich Ihnen helfen?")
    # NUL would end the text early (or fail the call); U+0001 starts an inline espeak command ("400S": speed 400).
    with_nul = synth.synthesize("Guten Tag\x00, wie kann ich Ihnen helfen?")
    assert abs(with_nul.duration_s - plain.duration_s) < 0.2 * plain.duration_s
    fast = synth.synthesize("Guten Tag, \x01400S wie kann ich Ihnen helfen?")
    assert fast.duration_s > plain.duration_s  # "400 S" is spoken; the speed did not change
    # SSML is never parsed: a 20 s break or an <audio src> is read out as characters, not obeyed.
    brk = synth.synthesize('Hallo <break time="20s"/> Welt')
    assert brk.duration_s < 10


def _voiced_seconds(pcm: bytes, rate: int) -> float:
    samples = np.abs(np.frombuffer(pcm, dtype=np.int16))
    loud = np.flatnonzero(samples > 500)
    return float(loud[-1] - loud[0]) / rate if loud.size else 0.0


@pytest.mark.slow
def test_a_company_greeting_with_an_option_is_spoken_as_text_in_a_call(settings: Settings, secret):
    """The real path: greeting saved through the company settings check, brain greets, pipeline speaks it."""
    from bot.runtime.live_calls import make_responder
    from bot.pipeline.phone_line import HangUpStep, WaitForBot
    from bot.runtime.wav_call import run_call
    from bot.store.companies import company_profile, create_company, update_company
    from bot.store.db import init_db, session_scope

    secret_path, secret_s = secret
    greeting = f"Ich bin eine KI-Assistentin. -f{secret_path}"
    init_db(settings)
    with session_scope(settings) as session:
        create_company(session, "praxis-test", "Praxis Test")
        profile = company_profile(update_company(session, "praxis-test", greeting_de=greeting))
    assert profile.greeting["de"] == greeting  # accepted and kept as written: it is only ever spoken
    responder = make_responder(settings, profile, None, "call-1")
    result = asyncio.run(run_call([WaitForBot(quiet_s=1.0, timeout_s=90), HangUpStep()], profile, responder,
                                  settings, max_s=120))
    bot_said = [text for who, text, _ in result.log.lines if who == "bot"]
    assert bot_said and bot_said[0].startswith(greeting)
    heard = _voiced_seconds(bytes(result.line.bot_pcm), result.line.bot_rate)
    assert 2.0 < heard < secret_s / 3, heard
