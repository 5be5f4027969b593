"""Post-call summaries from real brain transcripts: what the caller wanted, what the bot did, what is left to do."""

from __future__ import annotations

import pytest

import prompts
from bot.brain.call_summary import TAGS, CallRecord, RecordedMessage, RecordedTurn, summarize
from bot.brain.receptionist import Receptionist
from tests.support.brain_support import CLOSED, OPEN, Caller, KeywordLookup, profile

NUMBER = {"de": "null eins sieben eins, zwo drei vier fünf sechs vier sieben",
          "en": "zero one seven one, two three four five six four seven"}
E164 = "+491712345647"


def drive(lang: str, lines: list[str], *, when=OPEN, caller_id: str | None = None,
          hang_up: bool = True) -> tuple[CallRecord, Caller]:
    """Play ``lines`` to the real brain and turn its transcript into the record the store would hold."""
    caller = Caller(Receptionist(profile(lang), KeywordLookup()).session(), when, caller_id)
    caller.connect()
    for line in lines:
        caller.say(line)
    if hang_up:
        caller.event("hangup")
    session = caller.session
    turns: list[RecordedTurn] = []
    for item in session.transcript:
        if item["caller"]:
            turns.append(RecordedTurn("caller", item["caller"]))
        turns.append(RecordedTurn("bot", item["bot"], intent=item["intent"], entry_question=item["entry"]))
    msg = session.message
    messages = (RecordedMessage(msg.name, msg.number, msg.concern, msg.urgency, msg.complete),) if msg else ()
    transferred = next((t.actions[0].number for t in caller.turns
                        if t.actions and type(t.actions[0]).__name__ == "Transfer"), None)
    outcome = "transferred" if transferred else "message" if msg else (
        "answered" if any(t.entry_question for t in turns) else "abandoned")
    return CallRecord(outcome=outcome, turns=tuple(turns), messages=messages, transferred_to=transferred,
                      caller_number=caller_id, duration_s=60.0), caller


def p(lang: str, key: str, **kw: str) -> str:
    return prompts.load(lang, "summary")[key].format(**kw)


@pytest.mark.parametrize("lang", ["de", "en"])
def test_a_complete_message_reads_who_what_and_the_callback(lang: str) -> None:
    words = {"de": ["Ich möchte eine Nachricht hinterlassen", "Mein Name ist Max Müller", NUMBER["de"], "ja",
                    "Es geht um mein Rezept", "nein"],
             "en": ["I'd like to leave a message", "My name is John Smith", NUMBER["en"], "yes",
                    "It's about my prescription", "no"]}[lang]
    record, _ = drive(lang, words, when=CLOSED)
    assert record.messages and record.messages[0].complete, record
    name = record.messages[0].name
    s = summarize(record, lang)
    assert s.priority == "normal" and s.tags == ("message",)
    assert s.text.startswith(p(lang, "wanted", concern=record.messages[0].concern.rstrip(".")))
    assert p(lang, "did_message", name=name) in s.text
    assert s.text.endswith(p(lang, "todo_callback", name=name, number=E164))


def test_an_urgent_message_is_urgent_priority() -> None:
    record, _ = drive("de", ["Ich möchte eine Nachricht hinterlassen", "Mein Name ist Max Müller", NUMBER["de"],
                             "ja", "Ich habe einen Notfall mit meinem Zahn, es ist dringend"], when=CLOSED)
    msg = record.messages[0]
    assert msg.urgency == "urgent"
    s = summarize(record, "de")
    assert s.priority == "urgent"
    assert p("de", "todo_callback_urgent", name=msg.name, number=E164) in s.text


@pytest.mark.parametrize("lang", ["de", "en"])
def test_an_answered_question_needs_nothing(lang: str) -> None:
    record, _ = drive(lang, ["Wann haben Sie geöffnet?" if lang == "de" else "When are you open?"])
    s = summarize(record, lang)
    assert s.tags == ("answered",) and s.priority == "low"
    topic = next(t.entry_question for t in record.turns if t.entry_question).rstrip("?")
    assert p(lang, "did_answered", topics=topic) in s.text and s.text.endswith(p(lang, "todo_nothing"))


def test_a_hang_up_during_the_message_is_a_partial_callback_with_the_caller_id() -> None:
    record, _ = drive("de", ["Ich möchte eine Nachricht hinterlassen", "Mein Name ist Max Müller"], when=CLOSED,
                      caller_id="+4930123456")
    assert record.messages and not record.messages[0].complete
    s = summarize(record, "de")
    assert s.tags == ("partial_message", "hung_up_during_message") and s.priority == "normal"
    assert p("de", "did_message_partial") in s.text
    assert s.text.endswith(p("de", "todo_callback_partial", number="+4930123456"))


def test_a_hang_up_before_any_name_with_a_withheld_number_loses_nothing_worth_a_callback() -> None:
    record, _ = drive("en", ["I'd like to leave a message"], when=CLOSED)
    assert not record.messages and record.outcome == "abandoned"
    s = summarize(record, "en")
    assert "hung_up_during_message" in s.tags and p("en", "did_hung_up") in s.text
    assert s.text.endswith(p("en", "todo_nothing")) and s.priority == "low"


def test_a_question_the_faq_does_not_cover_asks_to_complete_the_faq() -> None:
    record, _ = drive("de", ["Ich möchte meine Rechnung reklamieren", "nein"], caller_id="+4930123456")
    s = summarize(record, "de")
    assert "not_covered" in s.tags and s.priority == "normal"
    assert s.text.startswith(p("de", "wanted", concern="Ich möchte meine Rechnung reklamieren"))
    assert p("de", "did_not_covered") in s.text
    assert s.text.endswith(p("de", "todo_faq_gap", number="+4930123456"))


def test_a_transfer_is_low_priority_and_names_the_number() -> None:
    record, _ = drive("en", ["a real person please"], hang_up=False)
    assert record.outcome == "transferred", record
    s = summarize(record, "en")
    assert "transferred" in s.tags and s.priority == "low"
    assert p("en", "did_transferred", number=record.transferred_to) in s.text


@pytest.mark.parametrize("caller_number, duration, priority", [(None, 60.0, "spam"), ("+4930123456", 4.0, "spam"),
                                                              ("+4930123456", 40.0, "low")])
def test_dead_air(caller_number: str | None, duration: float, priority: str) -> None:
    record = CallRecord(outcome="abandoned", turns=(RecordedTurn("bot", "Guten Tag …", intent="greeting"),),
                        caller_number=caller_number, duration_s=duration)
    s = summarize(record, "de")
    assert s.tags == ("dead_air",) and s.priority == priority
    assert s.text == f"{p('de', 'wanted_silent')} {p('de', 'todo_nothing')}"


def test_the_summary_is_in_the_secretarys_language_and_quotes_are_capped() -> None:
    long = "Ich rufe an wegen " + "sehr " * 60 + "vieler Dinge"
    record = CallRecord(outcome="message", turns=(RecordedTurn("caller", long),),
                        messages=(RecordedMessage("Eva Schulz", "+4930123456", long),))
    s = summarize(record, "en")
    assert s.text.startswith("Concern: Ich rufe an wegen sehr") and "…" in s.text
    assert len(s.text.split(".")[0]) < 140
    assert set(s.tags) <= set(TAGS)


def test_both_languages_have_the_same_summary_phrases() -> None:
    assert set(prompts.load("de", "summary")) == set(prompts.load("en", "summary"))
