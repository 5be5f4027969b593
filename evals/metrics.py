"""Aggregate judged calls into the figures a developer compares between runs.

Every metric is a plain float (or None when nothing measured it, e.g. WER in text mode). Direction matters for
baselines and CI gates: :func:`higher_is_better` says which way is good. ``no_wrong_answer_rate`` (= 1 - the
wrong-answer rate) exists so that ``--fail-under`` works for it like for every other quality metric.

Definitions (over all runs, ``--repeat`` included):
- task_success: share of calls with no failure at all.
- answer_accuracy: share of ``answered_from`` turns answered from the expected entry.
- confirmed_answer_rate: share of ``answered_from`` turns answered from the expected entry only after the caller
  confirmed a near miss ("Is this about …?" – "Yes"): its own outcome, included in answer_accuracy.
- confirmations: how many near-miss confirmations the bot asked (all calls; a count, not a rate).
- wrong_answer_rate: share of question turns (``answered_from`` or ``hands_off: true``) where the bot stated an FAQ
  answer that was wrong or answered a not-covered question. A hand-off instead of an answer is not wrong.
- handoff_precision / handoff_recall: over turns with a hand-off expectation (``hands_off``; ``answered_from``
  counts as "must not hand off"): precision = correct hand-offs / all hand-offs, recall = correct / expected.
- message_completeness: mean share of the four message fields (name, number, concern, urgency) present and as
  expected, over calls that expect a message.
- partial_message_rate: share of the calls that saved a message where it is partial (the caller hung up
  mid-message, or the number could not be taken): lower is better.
- groundedness: share of the bot's sentences traceable to an FAQ answer or a fixed phrase (prompts/, greeting).
- caller_wer: word error rate of the caller's recognised speech (audio mode; jiwer, normalised text).
- bot_wer: word error rate of the bot's speech transcribed back against what the brain said (audio mode).
- latency_<stage>_p50_ms / _p95_ms: per stage (brain, lookup, stt, tts, e2e …) over the caller's speech and keypad
  turns (what a caller waits on); ``greeting`` from the connect.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable

from evals.grounding import normalise
from evals.transcript import CallResult

LOWER_IS_BETTER_PREFIXES = ("wrong_answer_rate", "caller_wer", "bot_wer", "latency_", "flaky_scenarios",
                            "errors", "partial_message_rate")


def higher_is_better(metric: str) -> bool:
    return not metric.startswith(LOWER_IS_BETTER_PREFIXES)


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def wer(references: list[str], hypotheses: list[str]) -> float | None:
    """Corpus WER over normalised text (case and punctuation do not count as errors)."""
    import jiwer

    pairs = [(normalise(r), normalise(h)) for r, h in zip(references, hypotheses) if normalise(r)]
    if not pairs:
        return None
    refs, hyps = zip(*pairs)
    return float(jiwer.wer(list(refs), list(hyps)))


def _checks(results: Iterable[CallResult], kind: str) -> list[dict[str, Any]]:
    return [c for r in results for c in r.checks if c.get("type") == kind]


def compute(results: list[CallResult]) -> dict[str, float | None]:
    ran = [r for r in results if r.skipped is None]
    m: dict[str, float | None] = {"calls": float(len(ran)), "skipped": float(len(results) - len(ran)),
                                  "errors": float(sum(1 for r in ran if r.error))}
    m["task_success"] = _ratio(sum(r.passed for r in ran), len(ran))

    answers = _checks(ran, "answer")
    not_covered = _checks(ran, "answer_when_not_covered")
    handoff_expected_turns = [c for c in _checks(ran, "handoff") if c["expected"]]
    m["answer_accuracy"] = _ratio(sum(c["correct"] for c in answers), len(answers))
    m["confirmed_answer_rate"] = _ratio(sum(c["correct"] and c.get("confirmed", False) for c in answers),
                                        len(answers))
    m["confirmations"] = float(sum(1 for r in ran for rec in r.records if rec.intent == "confirm_topic"))
    wrong = sum(1 for c in answers if c["answered"] and not c["correct"]) + len(not_covered)
    question_turns = len(answers) + len(handoff_expected_turns)
    m["wrong_answer_rate"] = _ratio(wrong, question_turns)
    m["no_wrong_answer_rate"] = None if m["wrong_answer_rate"] is None else 1 - m["wrong_answer_rate"]

    handoffs = _checks(ran, "handoff")
    tp = sum(1 for c in handoffs if c["expected"] and c["predicted"])
    fp = sum(1 for c in handoffs if not c["expected"] and c["predicted"])
    fn = sum(1 for c in handoffs if c["expected"] and not c["predicted"])
    m["handoff_precision"] = _ratio(tp, tp + fp)
    m["handoff_recall"] = _ratio(tp, tp + fn)

    messages = _checks(ran, "message")
    m["message_completeness"] = _ratio(sum(sum(c["fields"].values()) / len(c["fields"]) for c in messages),
                                       len(messages))

    saved = [r for r in ran if r.message]
    m["partial_message_rate"] = _ratio(sum(r.message.get("complete", True) is False for r in saved), len(saved))

    grounding = _checks(ran, "grounding")
    sentences = sum(c["sentences"] for c in grounding)
    m["groundedness"] = _ratio(sentences - sum(len(c["ungrounded"]) for c in grounding), sentences)

    outcomes = _checks(ran, "outcome")
    m["outcome_accuracy"] = _ratio(sum(c["expected"] == c["got"] for c in outcomes), len(outcomes))

    caller = _checks(ran, "wer")
    m["caller_wer"] = wer([c["reference"] for c in caller], [c["hypothesis"] for c in caller])
    bot = _checks(ran, "bot_wer")
    m["bot_wer"] = wer([c["reference"] for c in bot], [c["hypothesis"] for c in bot])

    by_stage = latency_samples(ran)
    for stage in sorted(by_stage):
        m[f"latency_{stage}_p50_ms"] = percentile(by_stage[stage], 50)
        m[f"latency_{stage}_p95_ms"] = percentile(by_stage[stage], 95)

    rates = pass_rates(results)
    if any(v["runs"] > 1 for v in rates.values()):
        m["flaky_scenarios"] = float(sum(1 for v in rates.values() if 0 < v["pass_rate"] < 1))
    return m


def pass_rates(results: list[CallResult]) -> dict[str, dict[str, Any]]:
    """Per scenario (suite/id): runs, passes and the pass rate — the point of ``--repeat N``."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.skipped:
            continue
        key = f"{r.suite}/{r.scenario_id}"
        row = out.setdefault(key, {"runs": 0, "passed": 0})
        row["runs"] += 1
        row["passed"] += int(r.passed)
    for row in out.values():
        row["pass_rate"] = row["passed"] / row["runs"]
    return out


WAITED_FOR = ("speech", "dtmf")  # caller inputs after which a caller waits for the bot


def latency_samples(results: list[CallResult]) -> dict[str, list[float]]:
    """Latencies per stage over the turns a caller waits on (speech, keypad); a ``greeting`` stage from any turn.

    Connects, hang-ups and timer events would only dilute the percentiles with zeros."""
    samples: dict[str, list[float]] = defaultdict(list)
    for r in results:
        if r.skipped:
            continue
        for rec in r.records:
            for stage, ms in rec.latency_ms.items():
                if rec.caller_kind in WAITED_FOR or stage == "greeting":
                    samples[stage].append(ms)
    return dict(samples)
