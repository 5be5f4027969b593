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
