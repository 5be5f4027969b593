"""Audio mode: caller audio preparation, judging on what was heard and caller WER (with a runner double, fast), then
the real thing: ``evals.drivers.pipeline_call.run_eval_call`` on a short caller, and the audio_smoke suite as a CI gate
through the real pipeline, brain and knowledge base (slow: real time, real models)."""

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


# --- the real pipeline (evals.drivers.pipeline_call) -------------------------------------------------------------------
def _synth(settings, text: str, lang: str = "en") -> np.ndarray:
    from bot.pipeline.tts import get_synth

    audio = get_synth(settings, lang).synthesize(text)
    return resample(np.frombuffer(audio.pcm, dtype=np.int16).astype(np.float32) / 32768.0, audio.sample_rate)


@pytest.mark.slow
def test_run_eval_call_plays_speech_and_keys_through_the_real_pipeline_on_the_scenario_clock(settings):
    """One short caller: a question (answered from the one FAQ entry), then "0" on the keypad. The call is placed
    on a Sunday (closed) although the machine's clock says otherwise: "0" must lead to a message, not a transfer."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.brain.profile import CompanyProfile, parse_office_hours
    from evals.drivers.pipeline_call import run_eval_call
    from evals.drivers.audio import AudioCallRequest, CallerAudioTurn

    asked: list[str] = []

    def lookup(question, language=None):
        asked.append(question)
        return OneEntryKnowledge().ask("acme", question, language)

    profile = CompanyProfile(slug="acme", name="ACME", default_language="en", languages=("en",),
                             greeting={"en": "Hello, this is ACME."},
                             office_hours=parse_office_hours("mon-fri 09:00-17:00"), secretary_number="+4930555500000")
    sunday = datetime(2026, 3, 8, 11, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    request = AudioCallRequest(
        profile=profile, lookup=lookup, caller_id=None, at=sunday,
        turns=[CallerAudioTurn(0, "speech", _synth(settings, "What are your office hours?"),
                               reference="What are your office hours?", language="en"),
               CallerAudioTurn(1, "dtmf", digits="0")],
        settings=settings)
    response = run_eval_call(request)
    by_step = {(t.step, t.primary): t for t in response.turns}
    greeting, answer, keys = by_step[(-1, True)], by_step[(0, True)], by_step[(1, True)]
    assert greeting.bot_turn.intent == "greeting" and greeting.latency_ms["greeting"] >= 0
    assert greeting.bot_audio is not None and len(greeting.bot_audio) / greeting.bot_sample_rate > 0.5
    assert "office hours" in answer.recognised.lower() and asked, answer.recognised
    assert answer.bot_turn.entry == ENTRY and answer.caller_kind == "speech"
    assert set(answer.latency_ms) >= {"stt", "brain", "tts", "e2e"}
    assert 0 < answer.latency_ms["stt"] < answer.latency_ms["e2e"] < 5000, answer.latency_ms
    spoken_s = len(ENTRY.answer.split()) / 4  # well over half of the answer was played and captured
    assert len(answer.bot_audio) / answer.bot_sample_rate > spoken_s / 2
    assert keys.caller_kind == "dtmf" and keys.recognised is None
    assert response.transferred_to is None  # closed on the scenario's Sunday: no live transfer
    assert all(type(a).__name__ != "Transfer" for a in keys.bot_turn.post_speech)
    assert not any(t.interrupted for t in response.turns)


@pytest.mark.slow
def test_audio_smoke_suite_gate(tmp_path, settings, shared_data, monkeypatch):
    """The CI gate for audio mode: the audio_smoke suite through the real pipeline, brain and knowledge base."""
    from pathlib import Path

    from evals.runner import execute

    monkeypatch.setenv("RECEPTIONIST_SHARED_DATA", str(shared_data))
    monkeypatch.setattr("evals.grounding.PROMPTS_DIR", Path(__file__).resolve().parents[2] / "prompts")
    lines: list[str] = []
    driver = AudioDriver(settings, work_dir=tmp_path / "work")
    outcome = execute(["audio_smoke"], driver=driver, report_dir=tmp_path / "report", echo=lines.append,
                      progress=False, fail_under=["task_success=1", "no_wrong_answer_rate=1", "groundedness=1"],
                      fail_over=["caller_wer=0.5"])
    report = "\n".join(lines)
    assert outcome.exit_code == 0, report
    calls = {r["scenario_id"]: r for r in outcome.result["results"]}
    assert set(calls) == {"as-en-faq", "as-de-recorded", "as-keypad-number", "as-barge-in", "as-en-object-recording",
                          "as-de-mbrola", "as-de-phone-8k", "as-en-warm-declined"}
    for sid in ("as-de-mbrola", "as-de-phone-8k"):  # German synthetic callers, one over the 8 kHz line: heard as German
        assert calls[sid]["outcome"] == "answered"
        assert next(r for r in calls[sid]["records"] if r["primary"] and r["step"] == 0)["language"] == "de"
    assert calls["as-en-faq"]["outcome"] == "answered"
    primary = {sid: {r["step"]: r for r in c["records"] if r["primary"]} for sid, c in calls.items()}
    assert "250" in primary["as-en-faq"][0]["bot_heard"]  # the answer was heard, not only written
    assert primary["as-de-recorded"][0]["language"] == "de"
    assert primary["as-keypad-number"][2]["caller_kind"] == "dtmf"
    assert any(r["interrupted"] for r in calls["as-barge-in"]["records"] if r["step"] == -1)
    declined = [r["intent"] for r in calls["as-en-warm-declined"]["records"] if r["intent"] != "barge_in"]
    assert declined.index("take_message") == declined.index("ask_person") + 1, declined  # the secretary said no
    m = outcome.result["metrics"]
    assert m["latency_e2e_p50_ms"] is not None and m["caller_wer"] is not None
