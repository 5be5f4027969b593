"""Mixed-initiative message taking: every caller turn is scanned for all slots, in any order, several at once;
no question is asked more than twice; a number is never a name; "okay danke" after the offer is not a yes."""

from __future__ import annotations

import pytest

import prompts
from bot.brain.message_slots import declines, name_in, scan
from tests.brain.test_brain_dialogue import call
from tests.support.brain_support import CLOSED

UNCOVERED = {"de": "Ich möchte meine Rechnung reklamieren", "en": "I want to complain about my invoice"}


def phrase(lang: str, key: str, **kw: str) -> str:
    return prompts.load(lang, "phrases")[key].format(**kw)


def offered(lang: str, caller_id: str | None = None):
    c = call(lang, when=CLOSED, caller_id=caller_id)
    c.connect()
    turn = c.say(UNCOVERED[lang])
    assert turn.expecting == "handoff_confirm"
    return c


@pytest.mark.parametrize("text, name, digits, concern", [
    ("Peter Wagner, 0711 234 5678, es geht um die Reparatur meiner Yamaha", "Peter Wagner", "07112345678",
     "es geht um die Reparatur meiner Yamaha"),
    ("Ja gerne, Peter Wagner.", "Peter Wagner", "", None),
    ("null sieben eins eins, zwo drei vier fünf sechs sieben", None, "0711234567", None),
    ("Mein Name ist Peter Wagner und meine Nummer ist null eins sieben eins zwei drei vier fünf sechs sieben",
     "Peter Wagner", "0171234567", None),
    ("Sure, it is Anna Smith, my number is 020 7946 0018", "Anna Smith", "02079460018", None),
    ("Schneider, Maria Schneider", "Maria Schneider", "", None),
    ("okay danke", None, "", None),
    ("It's about my tenancy dispute, and it is urgent.", None, "", "It's about my tenancy dispute, and it is urgent"),
])
def test_scan_finds_every_slot(text: str, name, digits: str, concern) -> None:
    slots = scan(text)
    assert (slots.name, slots.digits, slots.concern) == (name, digits, concern)


def test_a_number_or_a_filler_is_never_a_name() -> None:
    for text in ("null eins sieben sechs zwei drei", "0176 2345678", "okay danke", "ja", "thank you", "äh"):
        assert name_in(text) is None, text
    assert name_in("ja gerne, morgen früh", strict=True) is None  # lower-case words in another answer


@pytest.mark.parametrize("text, declined", [("okay danke", True), ("okay thank you", True), ("Thanks, bye", True),
                                            ("Ja gerne, danke", False), ("yes please, thank you", False),
                                            ("ja bitte", False)])
def test_thanks_without_a_yes_word_declines(text: str, declined: bool) -> None:
    assert declines(text) is declined


@pytest.mark.parametrize("lang, reply", [("de", "okay danke"), ("en", "okay thank you")])
def test_okay_thanks_after_the_offer_is_not_a_yes(lang: str, reply: str) -> None:
    c = offered(lang)
    turn = c.say(reply)
    assert turn.intent == "handoff_declined" and c.session.draft is None


def test_yes_and_the_name_in_one_turn_does_not_ask_the_name_again() -> None:
    c = offered("de")
    turn = c.say("Ja gerne, Peter Wagner.")
    assert turn.say == f"{phrase('de', 'message_start_known')} {phrase('de', 'ask_number', name='Peter Wagner')}"
    assert turn.expecting == "number" and c.session.draft.name == "Peter Wagner"


def test_yes_name_and_number_in_one_turn_reads_the_number_back() -> None:
    c = offered("en")
    turn = c.say("Sure, it's Anna Smith, my number is 0176 2345 6789")
    assert turn.expecting == "confirm_number" and c.session.draft.name == "Anna Smith"
    assert turn.say.startswith(phrase("en", "message_start_known"))


def test_name_number_and_concern_in_one_turn_then_only_the_missing_questions() -> None:
    c = offered("de")
    c.say("Ja.")
    turn = c.say("Peter Wagner, 0711 234 5678, es geht um die Reparatur meiner Yamaha")
    assert turn.expecting == "confirm_number"
    turn = c.say("Ja, richtig.")
    assert turn.expecting == "urgency"  # the concern was given: not asked again
    turn = c.say("Nein.")
    saved = [a.message for a in turn.actions if type(a).__name__ == "SaveMessage"]
    assert saved and saved[0].name == "Peter Wagner" and saved[0].number == "+497112345678"
    assert saved[0].concern == "es geht um die Reparatur meiner Yamaha" and saved[0].complete


def test_a_number_given_as_the_name_is_taken_as_the_number_and_the_name_asked_after() -> None:
    c = offered("de")
    c.say("Ja.")
    turn = c.say("null eins sieben sechs, zwei drei vier fünf sechs sieben acht neun")
    assert turn.expecting == "confirm_number" and c.session.draft.name is None
    turn = c.say("Ja.")
    assert turn.expecting == "name"
    turn = c.say("Maria Schneider")
    assert turn.expecting == "urgency" and c.session.draft.name == "Maria Schneider"  # concern: the question


def test_the_name_is_asked_at_most_twice_then_the_message_goes_on() -> None:
    c = offered("de")
    c.say("Ja.")
    first = c.say("äh")
    assert first.say == phrase("de", "ask_name_again")
    second = c.say("hm, ja")
    assert second.expecting == "number" and second.say == phrase("de", "ask_number_again")


def test_a_number_that_fails_twice_is_asked_on_the_keypad_then_kept_without_one() -> None:
    c = offered("de")
    c.say("Ja.")
    c.say("Peter Wagner")
    assert c.say("keine Ahnung").expecting == "number"
    keypad = c.say("weiß ich nicht")
    assert keypad.say == phrase("de", "number_keypad")
    last = c.say("nein")
    saved = [a.message for a in last.actions if type(a).__name__ == "SaveMessage"]
    assert saved and saved[0].name == "Peter Wagner" and not saved[0].complete and saved[0].number == ""
    assert last.say == phrase("de", "message_saved_no_number")


def test_the_concern_in_the_number_turn_is_kept_and_not_asked() -> None:
    c = offered("en")
    c.say("Yes please.")
    c.say("John Carter")
    turn = c.say("zero one seven two, five five five, one two three four five, it's about my lease")
    assert turn.expecting == "confirm_number" and c.session.draft.concern == "it's about my lease"
    assert c.say("Yes.").expecting == "urgency"


def test_thanks_and_a_farewell_after_the_offer_ends_the_call_thanks_alone_does_not() -> None:
    assert offered("de").say("Danke, tschüss.").ends_call
    turn = offered("de").say("Nein, danke.")
    assert turn.intent == "handoff_declined" and not turn.ends_call


def test_the_yes_to_the_read_back_may_carry_the_concern_and_urgency() -> None:
    c = offered("de")
    c.say("Ja.")
    c.say("Klaus Weber")
    assert c.say("null drei null, eins eins zwei zwei drei drei vier vier").expecting == "confirm_number"
    turn = c.say("Ja, und es geht um meine Blutwerte, es ist dringend.")
    saved = [a.message for a in turn.actions if type(a).__name__ == "SaveMessage"]
    assert saved and saved[0].concern == "es geht um meine Blutwerte, es ist dringend"
    assert saved[0].urgency == "urgent" and saved[0].number == "+493011223344"


def test_a_request_with_a_question_and_the_name_takes_the_name() -> None:
    c = call("en", when=CLOSED)
    c.connect()
    turn = c.say("Could someone call me back, please? My name is Laura Fischer.")
    assert turn.expecting == "number" and c.session.draft.name == "Laura Fischer"
    assert name_in("Bitte um Rückruf.") is None  # a request, not a name
