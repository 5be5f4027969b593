"""Scenario files: the format parses into the expected values, and every kind of mistake gets a precise error."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from evals.runner import SuiteError, resolve_suite
from evals.scenario import ScenarioError, load_file

INLINE = {"slug": "acme", "name": "ACME", "faq": [{"question": "When are you open?", "answer": "From 9 to 5."}]}


def write(tmp_path: Path, data, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def one(turns, **extra) -> dict:
    return {"id": "x", "company": INLINE, "turns": turns, **extra}


def error_of(tmp_path: Path, data) -> ScenarioError:
    path = write(tmp_path, data)
    with pytest.raises(ScenarioError) as exc:
        load_file(path)
    assert str(path) in str(exc.value)
    return exc.value


def test_full_scenario_parses_into_values(tmp_path):
    path = write(tmp_path, """
defaults:
  company: {demo: praxis-berger, office_hours: "mon-fri 08:00-12:00"}
  caller: {language: de, caller_id: "+4917612345678"}
  at: 2026-12-24T20:15
scenarios:
  - id: a
    tags: [message]
    call: {transfer: no-answer, save: fails}
    turns:
      - "Wann haben Sie geöffnet?"
      - say: Hallo
        language: en
        barge_in_after_ms: 300
        expect: {answered_from: [Q1, Q2], contains: "8", not_contains: [Notruf], hands_off: false,
                 intent: faq, language: en, within_ms: 500}
      - dtmf: "0171#"
      - pause: 8
      - hangup: true
    expect:
      outcome: message
      message: {name: Anna, number: "0171 234", concern_contains: Rezept, urgency: urgent}
      transferred: false
""")
    (s,) = load_file(path)
    assert s.company.demo == "praxis-berger" and s.company.settings["office_hours"] == "mon-fri 08:00-12:00"
    assert s.caller_id == "+4917612345678" and s.language == "de"
    assert s.at.isoformat() == "2026-12-24T20:15:00"
    assert [t.kind for t in s.turns] == ["say", "say", "dtmf", "pause", "hangup"]
    assert s.turns[0].text == "Wann haben Sie geöffnet?"
    t = s.turns[1]
    assert t.language == "en" and t.barge_in_after_ms == 300
    assert t.expect.answered_from == ("Q1", "Q2") and t.expect.contains == ("8",) and t.expect.hands_off is False
    assert t.expect.within_ms == 500 and t.expect.intent == ("faq",)
    assert s.turns[2].digits == "0171#" and s.turns[3].pause_s == 8
    assert s.transfer_result == "no-answer" and s.save_result == "fails"
    assert s.expect.outcome == "message" and s.expect.message.urgency == "urgent"
    assert s.expect.message.concern_contains == ("Rezept",) and s.expect.transferred is False
    assert s.tags == ("message",)


@pytest.mark.parametrize("data, path_part, words", [
    (one([{"say": "hi", "expect": {"answerd_from": "Q"}}]), "turns[0].expect", "did you mean 'answered_from'"),
    (one([{"dtmf": 5}]), "turns[0].dtmf", "expected text"),
    (one([{"dtmf": "12a"}]), "turns[0].dtmf", "digits, * and #"),
    (one([{"say": "hi", "dtmf": "0"}]), "turns[0]", "exactly one of"),
    (one([]), "turns", "non-empty list"),
    (one([{"pause": -1}]), "turns[0].pause", "at least"),
    (one(["hi"], expect={"outcome": "won"}), "expect.outcome", "not one of answered, message"),
    (one(["hi"], expect={"message": {"number": "abc"}}), "expect.message.number", "has no digits"),
    (one(["hi"], expect={"outcome": "answered", "message": {"name": "A"}}), "expect.message", "outcome is"),
    (one([{"say": "hi", "expect": {"answered_from": "Q", "hands_off": True}}]), "turns[0].expect", "contradict"),
    (one(["hi"], caller={"language": "fr"}), "caller.language", "'fr' is not one of de, en"),
    (one(["hi"], at="tomorrow"), "at", "ISO date-time"),
    (one([{"pause": 3, "barge_in_after_ms": 100}]), "turns[0].barge_in_after_ms", "only speech or keypad"),
    ({"id": "x", "company": {"slug": "a"}, "turns": ["hi"]}, "company", "needs 'faq' entries"),
    ({"id": "x", "company": {**INLINE, "office_hours": "mon 9-5"}, "turns": ["hi"]}, "company.office_hours",
     "bad time span"),
    ({"id": "x", "company": "Praxis Berger", "turns": ["hi"]}, "company", "not a company slug"),
    ({"company": INLINE, "turns": ["hi"]}, "", "missing 'id'"),
    ({"id": "x", "company": {**INLINE, "learned": [{"question": "open?"}]}, "turns": ["hi"]}, "company.learned[0]",
     "missing 'entry_question'"),
    ({"id": "x", "company": {**INLINE, "learned": "all"}, "turns": ["hi"]}, "company.learned", "expected a list"),
])
def test_errors_name_the_file_and_the_field(tmp_path, data, path_part, words):
    err = error_of(tmp_path, data)
    assert err.path == path_part
    assert words in err.message


def test_error_path_inside_a_list_of_scenarios(tmp_path):
    data = {"defaults": {"company": INLINE}, "scenarios": [
        {"id": "a", "turns": ["hi"]}, {"id": "b", "turns": ["hi", {"say": "x", "expect": {"within_ms": "fast"}}]}]}
    err = error_of(tmp_path, data)
    assert err.path == "scenarios[1].turns[1].expect.within_ms"
    assert "expected a number" in err.message


def test_duplicate_ids_and_yaml_syntax(tmp_path):
    dup = {"defaults": {"company": INLINE}, "scenarios": [{"id": "a", "turns": ["x"]}, {"id": "a", "turns": ["y"]}]}
    assert "duplicate id 'a'" in str(error_of(tmp_path, dup))
    err = error_of(tmp_path, "id: x\nturns: [\n  - broken")
    assert "not valid YAML" in err.message and "line" in err.message
    assert "empty" in error_of(tmp_path, "").message


def test_missing_document_is_reported(tmp_path):
    data = {"id": "x", "company": {"slug": "a", "documents": ["nope.pdf"]}, "turns": ["hi"]}
    err = error_of(tmp_path, data)
    assert err.path == "company.documents[0]" and "nope.pdf" in err.message


def test_unknown_suite_lists_the_known_ones():
    with pytest.raises(SuiteError) as exc:
        resolve_suite("no-such-suite")
    assert "demo" in str(exc.value) and "clinc150" in str(exc.value)


def test_demo_suite_covers_every_flow_in_both_languages():
    suite = resolve_suite("demo")
    assert len(suite.scenarios) >= 40
    tags = Counter(t for s in suite.scenarios for t in s.tags)
    for flow in ("answer", "follow-up", "not-covered", "message", "ask-person", "transfer", "holiday", "keypad",
                 "correction", "barge-in", "silence", "language-switch", "goodbye"):
        assert tags[flow] >= 1, flow
    assert {s.language for s in suite.scenarios} == {"de", "en"}
    assert {s.company.demo for s in suite.scenarios} == {"praxis-berger", "kfz-huber", "keller-wright"}
    assert any(t.kind == "dtmf" for s in suite.scenarios for t in s.turns)
    assert any(t.barge_in_after_ms for s in suite.scenarios for t in s.turns)


@pytest.mark.slow
def test_generated_suites_are_sampled_reproducibly(shared_data, monkeypatch):
    monkeypatch.setenv("RECEPTIONIST_SHARED_DATA", str(shared_data))
    clinc = resolve_suite("clinc150")
    again = resolve_suite("clinc150")
    assert [s.turns[0].text for s in clinc.scenarios] == [s.turns[0].text for s in again.scenarios]
    assert len(clinc.scenarios) == 240
    answered = [s for s in clinc.scenarios if s.turns[0].expect.answered_from]
    assert len(answered) == 120 and len(clinc.scenarios[0].company.faq) == 45  # 3 domains x 15 intents
    faq_questions = {f.question for f in clinc.scenarios[0].company.faq}
    assert all(s.turns[0].expect.answered_from[0] in faq_questions for s in answered)
    assert all(s.turns[0].expect.hands_off for s in clinc.scenarios if s not in answered)

    banking = resolve_suite("banking77")
    faq = {f.question for f in banking.scenarios[0].company.faq}
    assert len(faq) == 77 - 12
    held = [s for s in banking.scenarios if s.turns[0].expect.hands_off]
    assert held and all("held_out" in s.tags for s in held)

    covid = resolve_suite("covidqa_de")
    assert covid.scenarios[0].language == "de" and len(covid.scenarios) == 150
    covid_faq = {f.question for f in covid.scenarios[0].company.faq}
    for s in covid.scenarios:
        expect = s.turns[0].expect
        assert (expect.answered_from[0] in covid_faq) if expect.answered_from else expect.hands_off

    learned = resolve_suite("clinc150_learned")
    assert [s.turns[0].text for s in learned.scenarios] == [s.turns[0].text for s in clinc.scenarios]  # same callers
    history = learned.scenarios[0].company.learned
    assert len(history) == 151 * 100 and sum(t is not None for _, t in history) == 45 * 100
    assert {t for _, t in history if t} == faq_questions
    assert not {q for q, _ in history} & {s.turns[0].text for s in learned.scenarios}  # train only, never a caller
    assert learned.scenarios[0].company.key != clinc.scenarios[0].company.key

    speech = resolve_suite("speech")
    assert all(s.turns[0].kind == "audio" and s.turns[0].audio.is_file() and s.turns[0].text for s in speech.scenarios)
    assert {s.language for s in speech.scenarios} == {"de", "en"}


def test_the_documented_example_is_a_valid_scenario_file(tmp_path):
    doc = (Path(__file__).resolve().parents[2] / "docs" / "evals.md").read_text(encoding="utf-8")
    section = doc.split("### Scenario format", 1)[1]
    example = section.split("```yaml", 1)[1].split("```", 1)[0]
    (s,) = load_file(write(tmp_path, example))
    assert [t.kind for t in s.turns] == ["say", "say", "dtmf", "pause", "audio", "hangup"]
    assert s.turns[1].barge_in_after_ms == 300 and s.turns[4].text == "Ich möchte einen Termin."
    assert s.expect.message.urgency == "urgent" and s.expect.transferred is False
