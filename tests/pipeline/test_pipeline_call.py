"""A whole call through the real pipeline (VAD, Smart Turn, faster-whisper, Piper), paced in real time.

The brain is replaced by a deterministic responder over fixed replies (a test double: the pipeline is under test).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from bot.brain.profile import CompanyProfile
from bot.pipeline.phone_line import HangUpStep, Keys, Say, WaitForBot, WhenBotSpeaks
from bot.runtime.wav_call import load_audio, run_call, split_utterances, to_pcm16
from bot.pipeline.responders import FixedReplies, FixedResponder

pytestmark = pytest.mark.slow


def _voiced(path):
    return np.concatenate(split_utterances(load_audio(path), min_gap_s=1.5))


def _loudness(pcm: bytes, rate: int, start_s: float, end_s: float) -> int:
    samples = np.frombuffer(pcm, dtype=np.int16)[int(start_s * rate):int(end_s * rate)]
    return int(np.abs(samples).max()) if samples.size else 0


def test_paced_call_greets_answers_is_interrupted_and_hears_keys(settings, shared_data):
    replies = FixedReplies.load()
    responder = FixedResponder(replies, language="en")
    question = _voiced(shared_data / "speech_picovoice_leopard" / "test.wav")  # "Mr. Quilter is the apostle ..."
    interruption = question  # 5 s without a real pause: the bot must stay quiet while the caller talks
    steps = [
        WaitForBot(quiet_s=0.5),
        Say(to_pcm16(question), pause_s=0.0, label="question"),
        WhenBotSpeaks(after_s=0.8),  # talk over the answer: barge-in
        Say(to_pcm16(interruption), pause_s=0.0, label="barge-in"),
        WaitForBot(quiet_s=0.5),
        Keys("12#"),
        WaitForBot(quiet_s=0.5),
        HangUpStep(),
    ]
    profile = CompanyProfile(slug="t", name="T", default_language="en")
    result = asyncio.run(run_call(steps, profile, responder, settings, max_s=120))
    rec = result.line
    kinds = [e.kind for e in responder.events]

    # Greeting: audio out right after connect.
    greeting = [lat for lat in result.latencies if lat.kind == "greeting"]
    assert greeting and rec.times("bot_audio_start")[0] < 2.0

    # The caller's question was transcribed and answered with audio after the caller stopped.
    speech = [e for e in responder.events if e.kind == "speech"]
    assert "quilter" in speech[0].text.lower() and speech[0].language == "en"
    question_end = rec.times("caller_speech_end")[0]
    assert any(t > question_end for t in rec.times("bot_audio_start"))

    # Barge-in: the responder was told, and the bot's answer stopped while the caller talked over it.
    assert "barge_in" in kinds
    barge_start, barge_end = rec.times("caller_speech_start")[1], rec.times("caller_speech_end")[1]
    assert barge_start > rec.times("bot_audio_start")[1]  # the caller really talked over the answer
    assert _loudness(bytes(rec.bot_pcm), rec.bot_rate, barge_start + 1.0, barge_end) < 500
    assert len(speech) == 2 and "quilter" in speech[1].text.lower()  # ... and was heard and answered again
    assert any(t > barge_end for t in rec.times("bot_audio_start"))

    # Keypad: digits up to "#" reach the responder as one DTMF input.
    dtmf = [e for e in responder.events if e.kind == "dtmf"]
    assert [e.digits for e in dtmf] == ["12#"]

    # Latency probes: every stage stamped in order for the answered question.
    reply = next(lat for lat in result.latencies if lat.kind == "reply")
    assert 0 < reply.end_of_turn_ms <= reply.stt_ms <= reply.brain_ms <= reply.first_audio_ms
    assert reply.early_stt and reply.stt_window
    assert reply.speculative  # transcript and turn verdict started at the short pause were reused at the VAD stop


def test_hang_up_action_ends_the_call_after_the_goodbye(settings, tmp_path):
    """A synthesised caller says goodbye; the bot says goodbye in full, then the pipeline ends by itself."""
    from bot.runtime.wav_call import write_wav
    from bot.commands.call_wav import run_wav_call
    from bot.pipeline.tts import EspeakSynth

    audio = EspeakSynth("en", rate_wpm=150).synthesize("Goodbye!")
    wav = tmp_path / "caller.wav"
    write_wav(wav, audio.pcm, audio.sample_rate)
    out = tmp_path / "bot.wav"
    lines: list[str] = []
    profile = CompanyProfile(slug="t", name="T", default_language="en")
    result = run_wav_call(profile, wav, out, settings, echo=lines.append)
    assert result.outcome == "answered"
    assert [t.intent for t in result.log.turns] == ["greeting", "goodbye"]
    assert any("outcome: answered" in line for line in lines)
    assert out.is_file() and out.stat().st_size > 16000 * 2 * 3  # greeting + goodbye, several seconds


def test_unusable_caller_audio_is_a_clear_error(settings, tmp_path):
    import click

    from bot.commands.call_wav import run_wav_call

    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    with pytest.raises(click.ClickException, match="cannot read"):
        run_wav_call("t", bad, None, settings)
    with pytest.raises(click.ClickException, match="does not exist"):
        run_wav_call("t", tmp_path / "missing.wav", None, settings)
