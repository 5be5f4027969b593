"""The clause reading of a caller turn: a greeting in front is not the request, a partial social match is not the
intent, and a turn of social clauses keeps its intent."""

from __future__ import annotations

import pytest

from bot.brain.clauses import clauses, read_turn
from bot.brain.intents import QUESTION, default_classifier
from bot.brain.receptionist import Receptionist
from bot.brain.types import HangUp
from tests.support.brain_support import OPEN, Caller, KeywordLookup, profile


@pytest.fixture(scope="module")
def classifier():
    return default_classifier()


def test_clauses_split_at_the_recognisers_punctuation() -> None:
    assert clauses("Guten Tag, wann sind Ihre Sprechzeiten?") == ["Guten Tag", "wann sind Ihre Sprechzeiten"]
    assert clauses("  ...  ") == []


@pytest.mark.parametrize("said, rest", [
    ("Guten Tag, wann sind Ihre Sprechzeiten?", "wann sind Ihre Sprechzeiten?"),
    ("Hello, do you speak English? Can I get a sick note over the phone?", "Can I get a sick note over the phone?"),
    ("Hallo, was kostet ein Ölwechsel?", "was kostet ein Ölwechsel?"),
])
def test_a_greeting_in_front_of_a_question_is_dropped(classifier, said, rest) -> None:
    reading = read_turn(said, classifier)
    assert reading.text == rest and reading.greeting_removed
    assert reading.intent.intent != "hello"


@pytest.mark.parametrize("said", ["Hallo?", "Guten Tag", "Do you speak English?"])
def test_a_greeting_alone_stays_a_greeting(classifier, said) -> None:
    reading = read_turn(said, classifier)
    assert reading.intent.intent == "hello" and reading.text == said and not reading.greeting_removed


@pytest.mark.parametrize("said", [
    "Can you represent me in a drink driving case next week?",  # nearest example: "Can you repeat that please"
    "Danke, und wo kann ich parken?",  # thanks in front, but a question: never a goodbye
])
def test_a_partial_social_match_is_a_question(classifier, said) -> None:
    assert read_turn(said, classifier).intent.intent == QUESTION


@pytest.mark.parametrize("said, intent", [
    ("Great, thanks. Bye!", "goodbye"),
    ("Vielen Dank, das war alles. Tschüss!", "goodbye"),
    ("Können Sie das bitte noch einmal wiederholen, ich habe Sie akustisch nicht verstanden?", "repeat"),
    ("Wie bitte?", "repeat"),
])
def test_a_turn_of_social_clauses_keeps_its_intent(classifier, said, intent) -> None:
    assert read_turn(said, classifier).intent.intent == intent


@pytest.mark.parametrize("lang, said, entry_id", [
    ("de", "Guten Tag, gibt es Parkplätze bei der Praxis?", "de:3"),
    ("en", "Hello, is there parking at the practice?", "en:3"),
])
def test_the_receptionist_answers_the_question_behind_a_greeting(lang, said, entry_id) -> None:
    lookup = KeywordLookup()
    c = Caller(Receptionist(profile(lang), lookup).session(), OPEN, None)
    c.connect()
    turn = c.say(said)
    assert turn.intent == "faq" and turn.entry.id == entry_id
    assert lookup.queries[-1][0] == said.split(", ", 1)[1]  # the greeting is not part of the lookup


def test_thanks_and_bye_after_an_answer_ends_the_call() -> None:
    c = Caller(Receptionist(profile("en"), KeywordLookup()).session(), OPEN, None)
    c.connect()
    assert c.say("Is there parking at the practice?").intent == "faq"
    turn = c.say("Great, thanks. Bye!")
    assert turn.intent == "goodbye" and any(isinstance(a, HangUp) for a in turn.actions)
