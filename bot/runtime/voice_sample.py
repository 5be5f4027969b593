"""A short sample of a voice for the company settings page ("listen" button), as a WAV file.

The sample text is data (``prompts/<lang>/phrases.yaml: voice_sample``) with the company's name and a price, a
time and a phone number, so the listener also hears how the voice reads numbers. Only catalogue voices installed
here can be asked for; the audio goes through the sentence cache, so pressing the button again costs nothing.
"""

from __future__ import annotations


import prompts
from bot import voices
from bot.pipeline.tts import TtsCache, get_synth, speak_cached, spoken_sentences
from bot.runtime.wav_file import wav_bytes
from bot.settings import Settings


class UnknownVoice(ValueError):
    """The requested voice is not one this machine can speak with."""


def sample_wav(settings: Settings, company_name: str, language: str, voice: str | None) -> bytes:
    """The sample in ``voice`` (None/empty: the deployment default for ``language``) as WAV bytes."""
    if language not in prompts.LANGUAGES:
        raise UnknownVoice(f"unknown language {language!r}")
    if voice and voice not in [v.id for v in voices.installed_voices(language)]:
        raise UnknownVoice(f"voice {voice!r} is not installed here")
    synth = get_synth(settings, language, voice or None)
    cache = TtsCache.for_settings(settings)
    text = prompts.load(language, "phrases")["voice_sample"].format(company=company_name)
    pcm, rate = b"", 16000
    for sentence in spoken_sentences(text, language):
        audio, _ = speak_cached(synth, cache, sentence)
        pcm += audio.pcm + b"\0\0" * int(audio.sample_rate * 0.25)
        rate = audio.sample_rate
    return wav_bytes(pcm, rate)
