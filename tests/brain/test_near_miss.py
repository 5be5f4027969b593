"""Near misses: the knowledge base is unsure but the best entry is plausible -> one short confirmation question.

Yes -> that entry's answer; no -> today's hand-off offer; a new question -> answered as a new question; a confident
match -> answered without asking; a far miss -> the hand-off offer without asking; never the same topic twice in a row.
"""

from __future__ import annotations

import pytest

import prompts
from bot.brain.receptionist import Receptionist
from bot.brain.states import CallState
from knowledge.types import Hit, SearchResult
from tests.support.brain_support import CLOSED, ENTRIES, OPEN, Caller, KeywordLookup, profile

LANGS = ("de", "en")
SAY = {
    "de": {"vague": "Kann man auch am Wochenende kommen?", "yes": "Ja, genau", "no": "Nein, etwas anderes",
           "parking": "Gibt es Parkplätze bei der Praxis?", "hours": "Wann haben Sie geöffnet?",
           "far": "Ich möchte meine Rechnung reklamieren", "unclear": "hm"},
    "en": {"vague": "What about the weekend?", "yes": "Yes, exactly", "no": "No, something else",
           "parking": "Is there parking at the practice?", "hours": "When are you open?",
           "far": "I want to complain about my invoice", "unclear": "hm"},
}
SATURDAY = {"de": "de:2", "en": "en:2"}


class NearMissLookup(KeywordLookup):
    """The keyword lookup, plus: a question about the weekend is a near miss on the Saturday entry."""

    def __call__(self, question: str, language: str | None) -> SearchResult:
        result = super().__call__(question, language)
        if any(w in question.lower() for w in ("wochenende", "weekend")):
            lang = "de" if "wochenende" in question.lower() else "en"
            entry = next(e for e in ENTRIES if e.id == SATURDAY[lang])
            return SearchResult(question, (Hit(entry, 0.7),), answerable=False, confidence=0.7, near_miss=True)
        return result


def phrase(lang: str, key: str, **kw: str) -> str:
    values = {"company": "Praxis Dr. Berger", "secretary": "Frau Berger", "secretary_dat": "Frau Berger", **kw}
    return prompts.load(lang, "phrases")[key].format(**values)


def caller(lang: str, when=OPEN) -> Caller:
    c = Caller(Receptionist(profile(lang), NearMissLookup()).session(), when)
    c.connect()
    return c


def entry(eid: str):
    return next(e for e in ENTRIES if e.id == eid)


@pytest.mark.parametrize("lang", LANGS)
def test_near_miss_asks_one_confirmation_with_the_topic(lang: str) -> None:
    c = caller(lang)
    turn = c.say(SAY[lang]["vague"])
    topic = entry(SATURDAY[lang]).question
    assert turn.intent == "confirm_topic" and turn.entry is None and not turn.actions
    assert turn.expecting == CallState.CONFIRM_TOPIC and turn.details["topic"] == topic
    assert topic.split("?")[0] in turn.say and turn.say.endswith("?")
    assert turn.say.startswith(phrase(lang, "confirm_topic", topic="").strip())


@pytest.mark.parametrize("lang", LANGS)
def test_yes_speaks_that_entrys_answer(lang: str) -> None:
    c = caller(lang)
    c.say(SAY[lang]["vague"])
    turn = c.say(SAY[lang]["yes"])
    e = entry(SATURDAY[lang])
    assert turn.intent == "faq" and turn.entry == e and turn.details["confirmed"] is True
    assert ("Samstag" if lang == "de" else "Saturday") in turn.say and "12" in turn.say
    assert turn.say.endswith(phrase(lang, "anything_else"))
    assert c.session.final_outcome == "answered"


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("when, key", [(OPEN, "not_covered_open"), (CLOSED, "not_covered_closed")])
def test_no_offers_the_usual_hand_off_and_keeps_the_concern(lang: str, when, key: str) -> None:
    c = caller(lang, when)
    c.say(SAY[lang]["vague"])
    turn = c.say(SAY[lang]["no"])
    assert turn.intent == "not_covered" and turn.entry is None and turn.say == phrase(lang, key)
    assert c.session.pending_concern == SAY[lang]["vague"]
    assert c.session.state == CallState.OFFER_HANDOFF


@pytest.mark.parametrize("lang", LANGS)
def test_no_then_yes_to_the_offer_starts_the_message_when_closed(lang: str) -> None:
    c = caller(lang, CLOSED)
    c.say(SAY[lang]["vague"])
    c.say(SAY[lang]["no"])
    turn = c.say("ja" if lang == "de" else "yes")
    assert turn.expecting in ("name", "offer_caller_id") and c.session.draft is not None
    assert c.session.draft.concern == SAY[lang]["vague"]


@pytest.mark.parametrize("lang", LANGS)
def test_a_new_question_instead_of_yes_or_no_is_answered(lang: str) -> None:
    c = caller(lang)
    c.say(SAY[lang]["vague"])
    turn = c.say(SAY[lang]["parking"])
    assert turn.intent == "faq" and turn.entry == entry(f"{lang}:3") and "confirmed" not in turn.details


@pytest.mark.parametrize("lang", LANGS)
def test_an_unclear_reply_is_handed_off_like_today(lang: str) -> None:
    c = caller(lang)
    c.say(SAY[lang]["vague"])
    turn = c.say(SAY[lang]["far"])
    assert turn.intent == "not_covered" and turn.say == phrase(lang, "not_covered_open")
    assert c.session.pending_concern == SAY[lang]["vague"]


@pytest.mark.parametrize("lang", LANGS)
def test_confident_match_is_answered_without_confirmation(lang: str) -> None:
    c = caller(lang)
    turn = c.say(SAY[lang]["hours"])
    assert turn.intent == "faq" and turn.entry == entry(f"{lang}:1") and "confirmed" not in turn.details
    assert all(t["intent"] != "confirm_topic" for t in c.session.transcript)


@pytest.mark.parametrize("lang", LANGS)
def test_far_miss_offers_the_hand_off_without_confirmation(lang: str) -> None:
    c = caller(lang)
    turn = c.say(SAY[lang]["far"])
    assert turn.intent == "not_covered" and turn.say == phrase(lang, "not_covered_open")
    assert all(t["intent"] != "confirm_topic" for t in c.session.transcript)


@pytest.mark.parametrize("lang", LANGS)
def test_never_the_same_confirmation_twice_in_a_row(lang: str) -> None:
    c = caller(lang)
    c.say(SAY[lang]["vague"])
    c.say(SAY[lang]["no"])
    assert c.say("nein" if lang == "de" else "no").intent == "handoff_declined"  # back to the question
    turn = c.say(SAY[lang]["vague"])  # the same near miss again: no second confirmation
    assert turn.intent == "not_covered"
    assert [t["intent"] for t in c.session.transcript].count("confirm_topic") == 1


@pytest.mark.parametrize("lang", LANGS)
def test_silence_during_the_confirmation_repeats_it(lang: str) -> None:
    c = caller(lang)
    asked = c.say(SAY[lang]["vague"]).say
    turn = c.silence()
    assert turn.say.endswith(asked) and c.session.state == CallState.CONFIRM_TOPIC
    assert c.say(SAY[lang]["yes"]).entry == entry(SATURDAY[lang])
