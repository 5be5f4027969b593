"""Judge a finished call against its scenario's expectations.

Fills ``result.failures`` (what a developer reads: kind + turn + plain-words detail) and ``result.checks`` (the
judged facts the metrics aggregate: answers, hand-offs, message fields, grounded sentences, transcription pairs).
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from bot.brain.call_summary import CallRecord, RecordedMessage, RecordedTurn, summarize
from evals.grounding import normalise, ungrounded_sentences
from evals.scenario import Scenario, TurnExpect
from evals.transcript import CallResult, Failure, TurnRecord

QUESTION_MATCH = 90.0  # fuzzy score (0..100) for "answered from <entry question>"
HEARD_MATCH = 80.0  # audio mode: fuzzy score for `contains` against the bot's transcribed speech


def entry_matches(record: TurnRecord, wanted: tuple[str, ...]) -> bool:
    if not record.entry_id:
        return False
    got = normalise(record.entry_question or "")
    for w in wanted:
        if w == record.entry_id or normalise(w) == got:
            return True
        if got and fuzz.token_sort_ratio(normalise(w), got) >= QUESTION_MATCH:
            return True
    return False


def _contains(haystack: str, needle: str, fuzzy: bool) -> bool:
    h, n = normalise(haystack), normalise(needle)
    if n in h:
        return True
    return fuzzy and len(n) >= 4 and fuzz.partial_ratio(n, h) >= HEARD_MATCH


def _digits(text: str) -> str:
    digits = re.sub(r"\D", "", text or "")
    if digits.startswith("00"):
        digits = digits[2:]
    return digits


def same_number(expected: str, got: str) -> bool:
    """'+49 170 1234567', '0170 1234567' and '+491701234567' are one number (compared on the national part)."""
    a, b = _digits(expected), _digits(got)
    if not a or not b:
        return False
    a_nat, b_nat = a.lstrip("0"), b.lstrip("0")
    return a == b or a_nat == b_nat or a_nat.endswith(b_nat[-9:]) and b_nat.endswith(a_nat[-9:])


def _check_turn(exp: TurnExpect, rec: TurnRecord, step: int, result: CallResult, audio: bool) -> None:
    fail = lambda kind, detail: result.failures.append(Failure(kind, step, detail))  # noqa: E731
    spoken = rec.spoken
    answered = rec.entry_id is not None
    if exp.answered_from:
        ok = entry_matches(rec, exp.answered_from)
        result.checks.append({"type": "answer", "step": step, "correct": ok, "answered": answered,
                              "confirmed": bool(getattr(rec, "confirmed", False)),
                              "expected": list(exp.answered_from), "got": rec.entry_question})
        result.checks.append({"type": "handoff", "step": step, "expected": False, "predicted": rec.handoff})
        if not ok:
            if answered:
                fail("wrong_answer", f"answered from {rec.entry_question!r}, expected {' | '.join(exp.answered_from)!r}")
            else:
                fail("missed_answer", f"no FAQ answer (intent {rec.intent!r}), expected "
                                      f"{' | '.join(exp.answered_from)!r}")
    if exp.hands_off is not None:
        if not exp.answered_from:
            result.checks.append({"type": "handoff", "step": step, "expected": exp.hands_off,
                                  "predicted": rec.handoff})
        if exp.hands_off and answered:
            result.checks.append({"type": "answer_when_not_covered", "step": step, "got": rec.entry_question})
            fail("wrong_answer", f"answered from {rec.entry_question!r} although the question is not covered")
        elif exp.hands_off and not rec.handoff:
            fail("missed_handoff", f"expected a hand-off, got intent {rec.intent!r}: {spoken!r}")
        elif exp.hands_off is False and rec.handoff:
            fail("false_handoff", f"handed off (intent {rec.intent!r}) but should not have")
    for needle in exp.contains:
        if not _contains(spoken, needle, audio):
            fail("contains", f"bot said {spoken!r}, missing {needle!r}")
    for needle in exp.not_contains:
        if _contains(spoken, needle, False):
            fail("not_contains", f"bot said {needle!r}: {spoken!r}")
    if exp.intent and rec.intent not in exp.intent:
        fail("intent", f"intent {rec.intent!r}, expected {' | '.join(exp.intent)!r}")
    if exp.expecting and rec.expecting not in exp.expecting:
        fail("expecting", f"bot waits for {rec.expecting!r}, expected {' | '.join(exp.expecting)!r}")
    if exp.language and rec.language != exp.language:
        fail("language", f"bot answered in {rec.language!r}, expected {exp.language!r}")
    if exp.ends_call is not None and rec.ends_call != exp.ends_call:
        fail("ends_call", "the bot ended the call" if rec.ends_call else "the bot did not end the call")
    if exp.says_nothing is not None and bool(rec.bot.strip()) == exp.says_nothing:
        fail("says_nothing", f"bot said {rec.bot!r}" if exp.says_nothing else "bot said nothing")
    if exp.within_ms is not None:
        latency = rec.latency_ms.get("e2e", rec.latency_ms.get("brain"))
        if latency is None:
            fail("latency", "no latency measured for this turn")
        elif latency > exp.within_ms:
            stage = "end-to-end" if "e2e" in rec.latency_ms else "brain"
            fail("latency", f"{stage} {latency:.0f} ms > budget {exp.within_ms:.0f} ms")


def _check_call(scenario: Scenario, result: CallResult) -> None:
    exp = scenario.expect
    fail = lambda kind, detail: result.failures.append(Failure(kind, -1, detail))  # noqa: E731
    if exp.outcome:
        result.checks.append({"type": "outcome", "expected": exp.outcome, "got": result.outcome})
        if result.outcome != exp.outcome:
            fail("outcome", f"outcome {result.outcome!r}, expected {exp.outcome!r}")
    if exp.message is not None:
        msg = result.message or {}
        m = exp.message
        fields = {
            "name": bool(msg.get("name")) and (m.name is None or normalise(m.name) in normalise(msg["name"])
                                               or fuzz.ratio(normalise(m.name), normalise(msg["name"])) >= 85),
            "number": bool(msg.get("number")) and (m.number is None or same_number(m.number, msg["number"])),
            "concern": bool(msg.get("concern")) and all(_contains(msg["concern"], c, True) for c in m.concern_contains),
            "urgency": bool(msg.get("urgency")) and (m.urgency is None or msg["urgency"] == m.urgency),
        }
        if not m.complete:  # a partial message: the fields the scenario names, and that it is marked partial
            wanted_fields = {"name": m.name, "number": m.number, "concern": m.concern_contains or None,
                             "urgency": m.urgency}
            fields = {k: v for k, v in fields.items() if wanted_fields[k]}
            fields["partial"] = bool(msg) and msg.get("complete", True) is False
        result.checks.append({"type": "message" if m.complete else "partial_message", "fields": fields})
        if not msg:
            fail("message", "no message was saved")
        else:
            wanted = {"name": m.name, "number": m.number, "concern": list(m.concern_contains), "urgency": m.urgency,
                      "partial": "a partial message"}
            for name, ok in fields.items():
                if not ok:
                    got = "complete" if name == "partial" else repr(msg.get(name))
                    fail("message", f"message {name} is {got}, expected {wanted[name] or 'a value'!r}")
    if exp.transferred is not None:
        if isinstance(exp.transferred, bool):
            if bool(result.transferred_to) != exp.transferred:
                fail("transfer", f"transferred to {result.transferred_to!r}" if result.transferred_to
                     else "not transferred")
        elif not result.transferred_to or not same_number(exp.transferred, result.transferred_to):
            fail("transfer", f"transferred to {result.transferred_to!r}, expected {exp.transferred!r}")


def call_record(scenario: Scenario, result: CallResult) -> CallRecord:
    """The call as the store would hold it: what the caller said (heard, in audio mode), what the bot said."""
    turns: list[RecordedTurn] = []
    for rec in result.records:
        said = rec.recognised if rec.recognised is not None else rec.caller_text
        if rec.caller_kind == "speech" and said:
            turns.append(RecordedTurn("caller", said))
        elif rec.caller_kind == "dtmf" and rec.caller_text:
            turns.append(RecordedTurn("caller", f"[Tastatur] {rec.caller_text}"))
        if rec.bot or rec.intent:
            turns.append(RecordedTurn("bot", rec.bot, rec.intent or None, rec.entry_question))
    m = result.message
    messages = (RecordedMessage(m.get("name", ""), m.get("number", ""), m.get("concern", ""),
                                m.get("urgency", "normal"), m.get("complete", True)),) if m else ()
    return CallRecord(outcome=result.outcome, turns=tuple(turns), messages=messages,
                      transferred_to=result.transferred_to, caller_number=scenario.caller_id)


def _check_summary(scenario: Scenario, result: CallResult) -> None:
    summary = summarize(call_record(scenario, result), result.company_language or scenario.language)
    result.summary = {"text": summary.text, "priority": summary.priority, "tags": list(summary.tags)}
    exp = scenario.expect.summary
    if exp is None:
        return
    fail = lambda detail: result.failures.append(Failure("summary", -1, detail))  # noqa: E731
    result.checks.append({"type": "summary", "priority": summary.priority, "expected_priority": exp.priority})
    for needle in exp.contains:
        if needle.lower() not in summary.text.lower():
            fail(f"summary {summary.text!r} does not contain {needle!r}")
    for needle in exp.not_contains:
        if needle.lower() in summary.text.lower():
            fail(f"summary {summary.text!r} contains {needle!r}")
    if exp.priority and summary.priority != exp.priority:
        fail(f"priority {summary.priority!r}, expected {exp.priority!r}")
    missing = [t for t in exp.tags if t not in summary.tags]
    if missing:
        fail(f"tags {list(summary.tags)} lack {missing}")


def _framed_for_speech(answers: list[str]) -> list[str]:
    """The answers as the brain frames them for speech (times, e-mail addresses read out), when it can tell us."""
    try:
        from bot.brain.speech import for_speech  # type: ignore[import-not-found]
    except ImportError:
        return []
    framed = []
    for answer in answers:
        for language in ("de", "en"):
            try:
                framed.append(for_speech(answer, language))
            except Exception:  # noqa: BLE001 - framing is a help for matching, never a reason to fail the eval
                pass
    return framed


def judge(scenario: Scenario, result: CallResult) -> CallResult:
    """Check every expectation; idempotent inputs, appends to ``result.failures`` and ``result.checks``."""
    if result.skipped:
        return result
    if result.error:
        result.failures.append(Failure("error", -1, result.error))
        return result
    audio = result.mode == "audio"
    primaries = {r.step: r for r in result.records if r.primary}
    for check in list(result.checks):
        if check.get("kind") == "call_ended_early":
            result.failures.append(Failure("call_ended_early", check["step"],
                                           f"the call ended before: {' / '.join(check['rest'])}"))
    for step, turn in enumerate(scenario.turns):
        rec = primaries.get(step)
        if rec is None:
            continue  # not reached; reported as call_ended_early
        if not turn.expect.empty:
            _check_turn(turn.expect, rec, step, result, audio)
        if audio and rec.recognised is not None and turn.text and turn.kind in ("say", "audio"):
            result.checks.append({"type": "wer", "reference": turn.text, "hypothesis": rec.recognised,
                                  "language": turn.language or scenario.language})
    answers = [e["answer"] for e in result.known_entries.values()]
    answers += _framed_for_speech(answers)
    # a near-miss confirmation reads the entry's question ("Is your question …?"): FAQ text, as traceable as answers
    answers += [rec.topic for rec in result.records if getattr(rec, "topic", None)]
    for rec in result.records:
        if not rec.bot.strip():
            continue
        total, bad = ungrounded_sentences(rec.bot, answers, result.company_phrases)
        result.checks.append({"type": "grounding", "step": rec.step, "sentences": total, "ungrounded": bad})
        for sentence in bad:
            result.failures.append(Failure("ungrounded", rec.step, f"not traceable to the FAQ or prompts/: "
                                                                   f"{sentence!r}"))
        if audio and rec.bot_heard is not None:
            result.checks.append({"type": "bot_wer", "reference": rec.bot, "hypothesis": rec.bot_heard})
    _check_call(scenario, result)
    _check_summary(scenario, result)
    return result
