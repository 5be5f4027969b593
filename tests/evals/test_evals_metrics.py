"""Metrics on hand-made transcripts with known values: groundedness, hand-off arithmetic, WER, messages, latency."""

from __future__ import annotations

import pytest

from evals.grounding import split_sentences, ungrounded_sentences
from evals.metrics import compute, higher_is_better, pass_rates, percentile, wer
from evals.transcript import CallResult, TurnRecord

ANSWER = ("Montag bis Freitag von 8 bis 12 Uhr, zusätzlich Montag, Dienstag und Donnerstag von 15 bis 18 Uhr. "
          "Mittwoch- und Freitagnachmittag ist die Praxis geschlossen.")


@pytest.fixture
def phrases(tmp_path, monkeypatch):
    """A prompts/ folder of our own, so the tests do not depend on the brain's current wording."""
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "phrases.yaml").write_text(
        'anything_else: "Kann ich sonst noch etwas für Sie tun?"\n'
        'ask_number: "Danke, {name}. Unter welcher Nummer können wir Sie zurückrufen?"\n'
        'faq_answer: "{answer}"\n', encoding="utf-8")
    (tmp_path / "de" / "intents.yaml").write_text('goodbye: ["Wir haben sonntags geöffnet."]\n', encoding="utf-8")
    monkeypatch.setattr("evals.grounding.PROMPTS_DIR", tmp_path)
    return tmp_path


def test_sentences_split_but_not_after_abbreviations():
    assert split_sentences("Praxis Dr. Berger, guten Tag. Wie kann ich helfen? Gern!") == [
        "Praxis Dr. Berger, guten Tag.", "Wie kann ich helfen?", "Gern!"]
    assert split_sentences("Ab dem 3. Oktober geöffnet.") == ["Ab dem 3. Oktober geöffnet."]


def test_groundedness_accepts_faq_and_phrases_and_catches_inventions(phrases):
    said = f"{ANSWER} Kann ich sonst noch etwas für Sie tun?"
    assert ungrounded_sentences(said, [ANSWER]) == (3, [])
    # a template phrase with a filled-in placeholder is grounded
    assert ungrounded_sentences("Danke, Anna Krüger. Unter welcher Nummer können wir Sie zurückrufen?", [])[1] == []
    # an invented sentence is caught; example phrases from intents.yaml prove nothing
    total, bad = ungrounded_sentences(f"{ANSWER} Wir haben sonntags geöffnet.", [ANSWER])
    assert total == 3 and bad == ["Wir haben sonntags geöffnet."]
    # a changed number is a changed fact, however similar the words
    assert ungrounded_sentences("Montag bis Freitag von 9 bis 12 Uhr, zusätzlich Montag, Dienstag und "
                                "Donnerstag von 15 bis 18 Uhr.", [ANSWER])[1]
    # digits read one by one are the same number
    assert ungrounded_sentences("Rufen Sie 1 1 6 1 1 7 an.", ["Rufen Sie 116117 an."])[1] == []
    # a company greeting from its settings counts as a fixed phrase
    assert ungrounded_sentences("Praxis Berger, guten Tag.", [], ["Praxis Berger, guten Tag."])[1] == []


def rec(step, *, entry=None, handoff=False, bot="", latency=None) -> TurnRecord:
    return TurnRecord(step=step, primary=True, caller_kind="speech", bot=bot, entry_id=entry, entry_question=entry,
                      handoff=handoff, latency_ms=latency or {})


def call(sid, checks, *, failures=0, records=(), run=0) -> CallResult:
    from evals.transcript import Failure

    return CallResult(scenario_id=sid, suite="s", run=run, mode="text", checks=list(checks),
                      failures=[Failure("x", 0, "") for _ in range(failures)], records=list(records))


def test_handoff_precision_recall_and_wrong_answers_arithmetic():
    results = [
        # 4 covered questions: 3 answered right, 1 answered from the wrong entry
        call("a1", [{"type": "answer", "correct": True, "answered": True},
                    {"type": "handoff", "expected": False, "predicted": False}]),
        call("a2", [{"type": "answer", "correct": True, "answered": True},
                    {"type": "handoff", "expected": False, "predicted": False}]),
        call("a3", [{"type": "answer", "correct": True, "answered": True},
                    {"type": "handoff", "expected": False, "predicted": False}]),
        call("a4", [{"type": "answer", "correct": False, "answered": True},
                    {"type": "handoff", "expected": False, "predicted": False}], failures=1),
        # 1 covered question handed off instead (not a wrong answer, but a false hand-off)
        call("a5", [{"type": "answer", "correct": False, "answered": False},
                    {"type": "handoff", "expected": False, "predicted": True}], failures=1),
        # 4 not-covered questions: 2 handed off, 1 answered anyway (wrong), 1 neither
        call("n1", [{"type": "handoff", "expected": True, "predicted": True}]),
        call("n2", [{"type": "handoff", "expected": True, "predicted": True}]),
        call("n3", [{"type": "handoff", "expected": True, "predicted": False},
                    {"type": "answer_when_not_covered"}], failures=1),
        call("n4", [{"type": "handoff", "expected": True, "predicted": False}], failures=1),
    ]
    m = compute(results)
    assert m["calls"] == 9 and m["task_success"] == pytest.approx(5 / 9)
    assert m["answer_accuracy"] == pytest.approx(3 / 5)
    assert m["wrong_answer_rate"] == pytest.approx(2 / 9)  # a4 + n3 over 5 + 4 question turns
    assert m["no_wrong_answer_rate"] == pytest.approx(7 / 9)
    assert m["handoff_precision"] == pytest.approx(2 / 3)  # n1, n2 right; a5 wrong
    assert m["handoff_recall"] == pytest.approx(2 / 4)
    assert m["caller_wer"] is None  # text mode measured no speech


def test_message_completeness_groundedness_latency_and_pass_rates():
    results = [
        call("m", [{"type": "message", "fields": {"name": True, "number": True, "concern": True, "urgency": False}},
                   {"type": "grounding", "sentences": 4, "ungrounded": []},
                   {"type": "grounding", "sentences": 1, "ungrounded": ["Wir haben sonntags auf."]}],
             records=[rec(0, latency={"brain": v}) for v in (10, 20, 30, 40)], run=0, failures=1),
        call("m", [{"type": "message", "fields": {"name": True, "number": True, "concern": True, "urgency": True}}],
             records=[rec(0, latency={"brain": 50})], run=1),
    ]
    m = compute(results)
    assert m["message_completeness"] == pytest.approx((0.75 + 1.0) / 2)
    assert m["groundedness"] == pytest.approx(4 / 5)
    assert m["latency_brain_p50_ms"] == 30 and m["latency_brain_p95_ms"] == pytest.approx(48)
    assert pass_rates(results) == {"s/m": {"runs": 2, "passed": 1, "pass_rate": 0.5}}
    assert m["flaky_scenarios"] == 1


def test_wer_and_percentile_and_directions():
    assert wer(["Wann haben Sie geöffnet?"], ["wann haben sie offen"]) == pytest.approx(1 / 4)
    assert wer(["a b c d", "e f"], ["a b c d", "e x"]) == pytest.approx(1 / 6)  # corpus WER, not a mean of ratios
    assert wer([], []) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([], 50) is None
    assert higher_is_better("task_success") and higher_is_better("no_wrong_answer_rate")
    assert not higher_is_better("wrong_answer_rate") and not higher_is_better("latency_e2e_p95_ms")
    assert not higher_is_better("caller_wer")
