"""Turn-taking details of the STT service that need no audio: questions end the turn, speculation bookkeeping."""

from __future__ import annotations

import asyncio

import pytest

from bot.pipeline.stt import FINISHED_SENTENCE_WAIT_S, INCOMPLETE_WAIT_S, is_question, looks_finished


def test_a_finished_question_is_recognised_from_the_transcript():
    assert is_question("Wann haben Sie geöffnet?") and is_question("Where can I park my car?")
    assert not is_question("Ich hätte gern einen Termin.")  # finished, but not a question
    assert not is_question("Wo?")  # one word: too little to trust the punctuation
    assert not is_question("Where can I park my car")
    assert looks_finished("Ich hätte gern einen Termin.") and not looks_finished("Ich möchte ...")


class _Engine:
    model_dir = "unused"


def _service():
    from bot.pipeline.stt import LocalWhisperSTTService

    return LocalWhisperSTTService(engine=_Engine(), languages=("de", "en"), default_language="de")


@pytest.mark.parametrize(("text", "expected"), [
    ("Wann haben Sie am Samstag geöffnet?", 0.0),
    ("Ich hätte gern einen Termin.", FINISHED_SENTENCE_WAIT_S),
    ("Ich möchte gern", INCOMPLETE_WAIT_S),
])
def test_wait_after_an_incomplete_verdict_depends_on_the_transcript(text, expected):
    from bot.pipeline.whisper_engine import SttResult

    async def run():
        stt = _service()
        fut = asyncio.get_running_loop().create_future()
        fut.set_result(SttResult(text=text, language="de", language_probability=1.0, window="trimmed"))
        stt._early_task = fut
        return await stt._incomplete_wait()

    assert asyncio.run(run()) == pytest.approx(expected, abs=0.05)


def test_default_language_must_be_one_the_caller_may_speak():
    from bot.pipeline.stt import LocalWhisperSTTService

    assert _service()._default_language == "de"
    assert LocalWhisperSTTService(engine=_Engine(), languages=("en",), default_language="de")._default_language == "en"


@pytest.mark.slow
def test_speculative_transcript_is_kept_while_quiet_and_called_off_when_the_caller_resumes():
    """At the short pause the final transcription starts; a resumed caller drops it (its cancel flag stops the
    engine between stages), and the next pause starts a new one over the longer audio."""
    import numpy as np
    import soxr

    from bot.pipeline import registry
    from bot.pipeline.stt import LocalWhisperSTTService
    from bot.pipeline.tts import EspeakSynth, audio_to_float
    from bot.settings import Settings

    synth = EspeakSynth("de+f2", rate_wpm=150).synthesize("Wo kann ich parken?")
    speech = soxr.resample(audio_to_float(synth.pcm), synth.sample_rate, 16000)
    pcm = (np.concatenate([np.zeros(16000), speech]) * 32767).astype(np.int16).tobytes()

    async def run():
        stt = LocalWhisperSTTService(engine=registry.whisper_engine(Settings(_env_file=None)), languages=("de", "en"),
                                     default_language="de")
        stt._in_turn, stt._caller_speaking, stt._turn = True, True, bytearray(pcm[: int(len(pcm) * 0.8) // 2 * 2])
        stt._speculate()
        first = stt._spec
        stt._turn = bytearray(pcm)
        stt._drop_speculation()  # CallerResumedFrame
        assert first.cancel.is_set() and stt._spec is None
        stt._speculate()  # the next pause
        second = stt._spec
        assert second is not first and len(second.audio) == len(pcm)
        result = await second.transcript
        return stt, result

    stt, result = asyncio.run(run())
    assert stt.speculations == {"started": 2, "adopted": 0, "dropped": 1}
    assert "parken" in result.text.lower() and result.language == "de"
