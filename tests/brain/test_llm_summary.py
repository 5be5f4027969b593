"""The LLM's summary is accepted only when grounded in the call record; priority and tags never come from it."""

from __future__ import annotations

import pytest

from bot.brain.call_summary import CallRecord, RecordedMessage, RecordedTurn, summarize
from bot.brain.llm_summary import grounded_summary, llm_summary, transcript_text

RECORD = CallRecord(
    outcome="message", caller_number="+491712345678",
    turns=(RecordedTurn("caller", "Meine Yamaha springt nicht an, können Sie mich zurückrufen?"),
           RecordedTurn("bot", "Wie ist Ihr Name, bitte?", intent="ask_name"),
           RecordedTurn("caller", "Peter Wagner, 0711 234 5678")),
    messages=(RecordedMessage("Peter Wagner", "+497112345678", "Yamaha springt nicht an", "urgent"),))
GOOD = "Herr Wagner meldet, dass seine Yamaha nicht anspringt. Die KI hat eine Nachricht aufgenommen. " \
       "Bitte dringend unter 0711 234 5678 zurückrufen."


@pytest.mark.parametrize("text, ok", [
    (GOOD, True),
    ("Herr Wagner bittet um Rückruf unter +49 711 2345678.", True),  # the same number, written internationally
    ("Herr Wagner bittet um Rückruf unter 0711 999 9999.", False),  # a number the caller never said
    ("Bitte dringend unter 0711 234 5678 zurückrufen.", False),  # the caller's name is missing
    ("Herr Wagner hat angerufen und bittet um Rückruf.", False),  # the callback number is missing
    ("", False),
    ("Herr Wagner, 0711 234 5678. " * 40, False),  # runaway length
])
def test_grounding(text: str, ok: bool) -> None:
    assert grounded_summary(text, RECORD, "de") is ok


def test_a_grounded_model_text_is_used_with_the_deterministic_priority_and_tags() -> None:
    fallback = summarize(RECORD, "de")
    seen = []

    def complete(messages):
        seen.append(messages)
        return GOOD + "  "

    result = llm_summary(complete, RECORD, fallback, "de", "Kfz Huber")
    assert result.text == GOOD and (result.priority, result.tags) == ("urgent", ("message",))
    system, user = seen[0]
    assert "Kfz Huber" in system["content"] and "höchstens drei" in system["content"]
    assert user["content"] == transcript_text(RECORD, "de")
    assert "Anrufer: Peter Wagner, 0711 234 5678" in user["content"] and "[caller ID] +491712345678" in user["content"]


def test_an_ungrounded_or_failing_model_leaves_the_deterministic_summary() -> None:
    fallback = summarize(RECORD, "de")
    assert llm_summary(lambda m: "Rückruf an Wagner unter 0800 123 456.", RECORD, fallback, "de", "K") == fallback

    def down(messages):
        raise TimeoutError("model too slow")

    assert llm_summary(down, RECORD, fallback, "de", "K") == fallback


def test_a_call_without_a_message_needs_only_numbers_from_the_record() -> None:
    record = CallRecord(outcome="answered", turns=(RecordedTurn("caller", "When are you open on Saturday?"),
                                                   RecordedTurn("bot", "From 9 to 12.", "faq", "Saturday hours")))
    assert grounded_summary("The caller asked for Saturday hours; the AI answered 9 to 12. Nothing to do.",
                            record, "en")
    assert not grounded_summary("The caller asked about Saturday; call back on 020 7946 0018.", record, "en")
