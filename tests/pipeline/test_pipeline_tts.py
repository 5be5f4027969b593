"""Speech synthesis: plausible audio per language, sentence cache (hits without synthesis), pre-synthesis."""

from __future__ import annotations

import pytest

from bot.pipeline.tts import Audio, Synth, TtsCache, get_synth, presynthesise, speak_cached, split_sentences


def test_sentences_split_at_sentence_ends_but_not_abbreviations():
    assert split_sentences("Guten Tag. Praxis Dr. Berger, am 3. Mai geöffnet! Wie kann ich helfen?") == [
        "Guten Tag.", "Praxis Dr. Berger, am 3. Mai geöffnet!", "Wie kann ich helfen?"]
    assert split_sentences("  ") == []


def test_german_espeak_audio_has_plausible_duration(settings):
    synth = get_synth(settings, "de", "espeak-ng")
    assert synth.voice_id.startswith("espeak-ng:de")
    audio = synth.synthesize("Guten Tag, wie kann ich Ihnen helfen?")
    assert 1.0 < audio.duration_s < 5.0
    assert max(abs(int.from_bytes(audio.pcm[i:i + 2], "little", signed=True)) for i in range(0, len(audio.pcm), 200)) > 1000


@pytest.mark.slow
def test_english_piper_audio_has_plausible_duration(settings):
    synth = get_synth(settings, "en")
    assert synth.voice_id.startswith("piper:en_US-joe-medium")
    short = synth.synthesize("Hello.")
    longer = synth.synthesize("Hello, you have reached the front desk. How can I help you today?")
    assert 0.2 < short.duration_s < 2.0
    assert 2.0 < longer.duration_s < 8.0 and longer.duration_s > 2 * short.duration_s


class CountingSynth(Synth):
    def __init__(self, inner: Synth):
        self.inner, self.voice_id, self.language, self.calls = inner, inner.voice_id, inner.language, 0

    def synthesize(self, text: str) -> Audio:
        self.calls += 1
        return self.inner.synthesize(text)


def test_cache_hit_returns_identical_audio_without_synthesis(settings, tmp_path):
    synth = CountingSynth(get_synth(settings, "de"))
    cache = TtsCache(tmp_path / "tts_cache")
    first, hit1 = speak_cached(synth, cache, "Wir haben bis achtzehn Uhr geöffnet.")
    second, hit2 = speak_cached(synth, cache, "Wir haben bis achtzehn Uhr geöffnet.")
    assert (hit1, hit2) == (False, True) and synth.calls == 1
    assert second.pcm == first.pcm and second.sample_rate == first.sample_rate
    # A changed text is a different key: the old audio is never spoken for the new answer.
    third, hit3 = speak_cached(synth, cache, "Wir haben bis neunzehn Uhr geöffnet.")
    assert not hit3 and synth.calls == 2 and third.pcm != first.pcm


def test_presynthesise_fills_the_cache_per_sentence(settings):
    texts = ["Guten Tag. Wie kann ich helfen?", "Wir haben montags geöffnet."]
    assert presynthesise(texts, "de", settings) == 3
    assert presynthesise(texts, "de", settings) == 0  # nothing new the second time
    cache = TtsCache.for_settings(settings)
    voice = get_synth(settings, "de").voice_id
    assert cache.path(voice, "Wie kann ich helfen?").is_file()
    assert cache.root == settings.resolved_data_dir / "tts_cache"


async def test_sentences_that_speak_caller_data_back_are_never_cached(settings, tmp_path):
    """DSGVO: the sentence cache outlives every retention period, so a read-back of the caller's name and number
    is synthesised for the call only; the turn's other sentences are cached as usual."""
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.tests.utils import SleepFrame, run_test

    from bot.pipeline.tts import LocalTTSService, SpeakFrame, TtsCache, holds_private

    cache = TtsCache(tmp_path / "tts_cache")
    tts = LocalTTSService(settings, languages=("de",), default_language="de", cache=cache)
    text = "Vielen Dank, Peter Wagner. Worum geht es?"
    await run_test(Pipeline([tts]), frames_to_send=[SpeakFrame(text, "de", private=("Peter Wagner",)), SleepFrame(1.0)],
                   expected_down_frames=None)
    voice = get_synth(settings, "de").voice_id
    first, second = split_sentences(text)
    assert not cache.path(voice, first).exists() and cache.path(voice, second).is_file()
    assert tts.synthesised == 2 and tts.cache_hits == 0
    assert holds_private("Guten Tag.", ("Die Antwort des Modells. Guten Tag.",))  # an LLM's own wording
    assert not holds_private("Worum geht es?", ("Peter Wagner",))


def test_the_brain_marks_the_caller_data_it_speaks_back():
    from bot.brain.receptionist import Receptionist
    from tests.support.brain_support import CLOSED, Caller, KeywordLookup, profile

    c = Caller(Receptionist(profile("de"), KeywordLookup()).session(), CLOSED)
    assert "private" not in c.connect().details
    c.say("Ich möchte eine Nachricht hinterlassen")
    turn = c.say("Max Müller")
    assert "Max Müller" in turn.say and turn.details["private"] == ("Max Müller",)
    confirm = c.say("null eins sieben eins, zwo drei vier fünf sechs vier sieben")
    assert len(confirm.details["private"]) == 1 and confirm.details["private"][0] in confirm.say
    repeat = c.say("wie bitte?")  # said again: still caller data
    assert repeat.say == confirm.say and repeat.details["private"] == confirm.details["private"]
