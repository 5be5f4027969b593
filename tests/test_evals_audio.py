"""Audio mode's own parts: caller audio preparation, judging on what was heard, caller WER — with the pipeline's
call runner replaced by a double until bot.pipeline is merged (the real run is the lead's merge check)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from bot.brain.types import BotTurn
from evals.drivers.audio import (SAMPLE_RATE, AudioCallResponse, AudioDriver, AudioTurnResult, load_audio, resample)
from evals.drivers.base import DriverUnavailable
from evals.metrics import compute
from evals.runner import resolve_suite, run_scenarios
from knowledge.types import Entry, Hit, SearchResult

ENTRY = Entry("e1", "What are your office hours?", "Monday to Thursday from 9 am to 1 pm.", "faq.md")


class OneEntryKnowledge:
    def ask(self, company, question, language=None):
        return SearchResult(question, (Hit(ENTRY, 0.9),), answerable=True, confidence=0.9)


def test_resample_and_load_real_recordings(shared_data):
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 8000, endpoint=False)).astype(np.float32)
    assert len(resample(tone, 8000)) == 16000
    jfk = load_audio(shared_data / "speech_whisper_jfk" / "jfk.flac")  # 44.1 kHz FLAC
    assert jfk.dtype == np.float32 and 10.5 < len(jfk) / SAMPLE_RATE < 11.5
    phone = load_audio(shared_data / "speech_asterisk_en_8k" / "wav" / "agent-user.wav")  # 8 kHz telephone band
    assert len(phone) > SAMPLE_RATE // 2
    with pytest.raises(FileNotFoundError, match="caller audio not found"):
        load_audio(shared_data / "nope.wav")


def test_audio_mode_judges_what_was_heard_and_measures_caller_wer(tmp_path, settings):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"id": "a", "company": {"slug": "acme", "default_language": "en", "greeting": {"en": "Hello, this is ACME."}, "faq": [
        {"question": ENTRY.question, "answer": ENTRY.answer}]}, "caller": {"language": "en"}, "at": "2026-03-03T10:00",
        "turns": [{"say": "What are your office hours?", "expect": {"answered_from": ENTRY.question,
                                                                     "contains": "nine am", "within_ms": 900}},
                  {"pause": 2}]}), encoding="utf-8")
    requests = []

    def runner(request):
        requests.append(request)
        greeting = BotTurn("Hello, this is ACME.", "en", "greeting")
        answer = BotTurn(ENTRY.answer, "en", "faq", entry=ENTRY)
        return AudioCallResponse(turns=[
            AudioTurnResult(-1, True, "connect", None, greeting, np.ones(800, np.float32)),
            AudioTurnResult(0, True, "speech", "what are your office ours", answer, np.ones(1600, np.float32),
                            latency_ms={"stt": 80.0, "brain": 5.0, "tts": 120.0, "e2e": 650.0}),
            AudioTurnResult(1, True, "silence", None, BotTurn("", "en", "silence"), None)])

    heard = {800: "Hello, this is ACME.", 1600: "Monday to Thursday from nine am to one pm."}
    driver = AudioDriver(settings, work_dir=tmp_path / "w", runner=runner,
                         synthesise=lambda text, lang: (np.zeros(8000, np.float32), 8000),
                         transcribe=lambda audio, rate, lang: heard[len(audio)],
                         knowledge_factory=lambda d, slug, docs: OneEntryKnowledge())
    (result,) = run_scenarios([resolve_suite(str(path))], driver)
    (req,) = requests
    assert [t.kind for t in req.turns] == ["speech", "silence"]
    assert len(req.turns[0].audio) == 16000 and len(req.turns[1].audio) == 2 * SAMPLE_RATE
    assert req.turns[0].reference == "What are your office hours?" and req.at.isoformat().startswith("2026-03-03T10:00")
    assert result.failures == [], result.failures
    assert result.records[1].bot_heard == heard[1600] and result.records[1].recognised == "what are your office ours"
    m = compute([result])
    assert m["caller_wer"] == pytest.approx(1 / 5)  # "hours" heard as "ours"
    assert m["bot_wer"] > 0  # "9 am" written, "nine am" heard
    assert m["latency_e2e_p50_ms"] == 650 and m["latency_tts_p50_ms"] == 120


def test_audio_mode_without_the_pipeline_says_what_is_missing(settings, monkeypatch):
    monkeypatch.setattr("evals.drivers.audio.RUNNER", ("bot.pipeline.no_such_module", "run_eval_call"))
    with pytest.raises(DriverUnavailable, match="audio mode needs the voice pipeline"):
        AudioDriver(settings)
