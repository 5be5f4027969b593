"""Numbers, times, prices, dates, e-mail and web addresses and phone numbers are *heard* right in German.

Each kind is written as a company would write it, normalised for speech (``for_speech``, which the TTS applies to
every sentence), synthesised by the default German voice and transcribed back by the product's recogniser. Both
sides go through :func:`evals.tts_voices.normalise` ("12,50 €" and "zwölf Euro fünfzig" are the same), so the
test fails on what a caller would mishear, not on the recogniser's formatting.
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.brain.numbers import parse_spoken_digits
from bot.brain.speech import for_speech
from bot.pipeline import registry
from bot.pipeline.tts import get_synth, spoken_sentences
from evals.tts_voices import normalise, to_16k

pytestmark = pytest.mark.slow

CASES = {  # kind: (written, what must be heard, normalised)
    "number": ("Wir haben 1.250 Parkplätze.", "eintausendzweihundertfünfzig"),
    "time": ("Die Praxis öffnet um 7:30 Uhr.", "sieben uhr dreißig"),
    "price": ("Ein Attest kostet 12,50 €.", "zwölf euro fünfzig"),
    "date": ("Am 24.12.2026 ist geschlossen.", "vierundzwanzig dezember"),
    "email": ("Schreiben Sie an praxis@berger.de.", "praxis at berger punkt de"),
    "web": ("Termine unter www.praxis-berger.de/termine.", "praxis bindestrich berger punkt de"),
}


def _hear(settings, text: str) -> str:
    synth = get_synth(settings, "de")
    engine = registry.whisper_engine(settings)
    audio = np.concatenate([to_16k(synth.synthesize(s), phone=False) for s in spoken_sentences(text, "de")])
    return engine.transcribe(audio, languages=("de", "en"), preferred="de").text


@pytest.mark.parametrize("kind", sorted(CASES))
def test_kind_is_heard_right(settings, kind: str) -> None:
    written, expected = CASES[kind]
    assert expected in normalise(for_speech(written, "de")), "the reference itself must say it"
    heard = _hear(settings, written)
    # word gaps are the recogniser's formatting too ("Strichberger"), so compare without them
    assert expected.replace(" ", "") in normalise(heard).replace(" ", ""), f"{kind}: {written!r} was heard as {heard!r}"


def test_phone_number_is_heard_digit_by_digit(settings) -> None:
    heard = _hear(settings, "Rufen Sie uns an unter 030 5550 1200.")
    assert "03055501200" in parse_spoken_digits(heard).replace(" ", ""), heard
