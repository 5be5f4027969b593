"""The JSON result and the self-contained HTML report: transcripts, grouped failures, charts, baseline verdicts."""

from __future__ import annotations

import json
import re

import pytest

from evals.report import (build_result, diff_metrics, load_result, parse_thresholds, threshold_violations, write_report)
from evals.transcript import CallResult, Failure, TurnRecord


def results() -> list[CallResult]:
    ok = CallResult("hours", "demo", 0, "text", title="Öffnungszeiten", tags=["answer"], outcome="answered",
                    records=[TurnRecord(-1, True, "connect", "[connects]", bot="Guten Tag <Praxis>.",
                                        latency_ms={"brain": 4.0}),
                             TurnRecord(0, True, "speech", "Wann haben Sie geöffnet?", bot="Von 8 bis 12 Uhr.",
                                        intent="faq", entry_id="e1", entry_question="Wann sind Ihre Sprechzeiten?",
                                        latency_ms={"brain": 12.0})],
                    checks=[{"type": "answer", "correct": True, "answered": True}])
    bad = CallResult("parking", "demo", 0, "text", outcome="abandoned",
                     records=[TurnRecord(0, True, "speech", "Parken?", bot="Samstags offen.",
                                         latency_ms={"brain": 30.0})],
                     failures=[Failure("wrong_answer", 0, "answered from 'X', expected 'Y'"),
                               Failure("ungrounded", 0, "not traceable: 'Samstags offen.'")],
                     checks=[{"type": "answer", "correct": False, "answered": True}])
    return [ok, bad]


def test_html_report_is_self_contained_with_transcripts_failures_and_charts(tmp_path):
    result = build_result(results(), mode="text", suites=["demo"], repeat=1)
    baseline = {"metrics": {**result["metrics"], "answer_accuracy": 1.0, "task_success": 0.25}}
    json_path, html_path = write_report(result, tmp_path, baseline)
    html = html_path.read_text(encoding="utf-8")
    assert "Wann haben Sie geöffnet?" in html and "Von 8 bis 12 Uhr." in html
    assert "Guten Tag &lt;Praxis&gt;." in html  # escaped, never raw markup from a transcript
    assert "wrong_answer (1)" in html and "ungrounded (1)" in html
    assert html.count("<svg") >= 2 and len(re.findall(r'<rect class="bar"', html)) == 20
    assert 'class="baseline"' in html
    assert '<td class="worse">worse</td>' in html and '<td class="better">better</td>' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no external assets
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["metrics"]["answer_accuracy"] == 0.5 and data["metrics"]["task_success"] == 0.5
    assert data["results"][1]["failures"][0]["kind"] == "wrong_answer"
    assert CallResult.from_dict(data["results"][0]).records[1].entry_id == "e1"  # round trip
    assert load_result(json_path)["meta"]["mode"] == "text"


def test_baseline_verdicts_follow_the_metric_direction():
    diffs = {d.metric: d.verdict for d in diff_metrics(
        {"task_success": 0.9, "wrong_answer_rate": 0.05, "latency_e2e_p95_ms": 700.0, "groundedness": 1.0,
         "caller_wer": None, "new_metric": 1.0},
        {"task_success": 0.8, "wrong_answer_rate": 0.02, "latency_e2e_p95_ms": 900.0, "groundedness": 1.0,
         "caller_wer": 0.1})}
    assert diffs == {"task_success": "better", "wrong_answer_rate": "worse", "latency_e2e_p95_ms": "better",
                     "groundedness": "same", "caller_wer": "gone", "new_metric": "new"}


def test_thresholds_parse_and_violations_are_plain_words():
    assert parse_thresholds(["task_success=0.9", "groundedness = 1"], "--fail-under") == {
        "task_success": 0.9, "groundedness": 1.0}
    with pytest.raises(ValueError, match="expected METRIC=VALUE"):
        parse_thresholds(["task_success"], "--fail-under")
    metrics = {"task_success": 0.8, "groundedness": 1.0, "caller_wer": None, "wrong_answer_rate": 0.03}
    assert threshold_violations(metrics, {"task_success": 0.9, "groundedness": 1.0}) == [
        "task_success = 0.8 is below 0.9"]
    assert threshold_violations(metrics, {"caller_wer": 0.2}) == [
        "caller_wer: not measured in this run, cannot be at least 0.2"]
    assert threshold_violations(metrics, {}, {"wrong_answer_rate": 0.02}) == ["wrong_answer_rate = 0.03 is above 0.02"]
    assert "unknown metric" in threshold_violations(metrics, {"succes": 1})[0]


def test_a_baseline_that_is_not_a_result_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(ValueError, match="not an eval result"):
        load_result(path)
