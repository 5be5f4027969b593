"""Every receptionist flow, in German and in English, with explicit clocks and a deterministic FAQ lookup."""

from __future__ import annotations

import pytest

import prompts
from bot.brain.numbers import speak_digits
from bot.brain.receptionist import Receptionist
from bot.brain.types import CallerInput, HangUp, SaveMessage, Transfer
from knowledge.types import Hit, SearchResult
from tests.support.brain_support import CLOSED, ENTRIES, OPEN, Caller, KeywordLookup, at, profile

LANGS = ("de", "en")
SAY = {
    "de": {
        "hours": "Wann haben Sie geöffnet?", "followup": "und am Samstag?",
        "parking": "Gibt es Parkplätze bei der Praxis?", "person": "Kann ich mit Frau Berger sprechen?",
        "uncovered": "Ich möchte meine Rechnung reklamieren", "yes": "ja", "no": "nein",
        "name": "Mein Name ist Max Müller", "number": "null eins sieben eins, zwo drei vier fünf sechs vier sieben",
        "correction": "nein, am Ende 48", "concern": "Es geht um mein Rezept",
        "urgent_concern": "Ich habe einen Notfall mit meinem Zahn, es ist dringend", "repeat": "wie bitte?",
        "bye": "Danke, tschüss", "message": "Ich möchte eine Nachricht hinterlassen",
    },
    "en": {
        "hours": "When are you open?", "followup": "and on Saturday?",
        "parking": "Is there parking at the practice?", "person": "a real person please",
        "uncovered": "I want to complain about my invoice", "yes": "yes", "no": "no",
        "name": "My name is John Smith", "number": "zero one seven one, two three four five six four seven",
        "correction": "no, the last two are 48", "concern": "It's about my prescription",
        "urgent_concern": "I have an emergency with my tooth, it is urgent", "repeat": "could you repeat that",
        "bye": "thanks, bye", "message": "I'd like to leave a message",
    },
}
NAME = {"de": "Max Müller", "en": "John Smith"}


def phrase(lang: str, key: str, **kw: str) -> str:
    values = {"company": "Praxis Dr. Berger", "secretary": "Frau Berger", "secretary_dat": "Frau Berger", **kw}
    return prompts.load(lang, "phrases")[key].format(**values)


def call(lang: str, when=OPEN, lookup=None, caller_id=None, **profile_kw) -> Caller:
    r = Receptionist(profile(lang, **profile_kw), lookup or KeywordLookup())
    c = Caller(r.session(), when, caller_id)
    return c


# --------------------------------------------------------------------------------------------------- greeting
@pytest.mark.parametrize("lang", LANGS)
def test_greeting_in_company_name_and_language_with_ai_disclosure(lang: str) -> None:
    turn = call(lang).connect()
    assert turn.say == phrase(lang, "greeting")
    assert "Praxis Dr. Berger" in turn.say and (" KI" in turn.say if lang == "de" else " AI " in turn.say)
    assert turn.language == lang and turn.intent == "greeting" and not turn.actions


def test_custom_greeting_and_missing_disclosure_is_added() -> None:
    c = call("de", greeting={"de": "Praxis Berger, guten Tag!"})
    assert c.connect().say == "Praxis Berger, guten Tag! " + phrase("de", "ai_disclosure")
    c = call("en", greeting={"en": "Welcome to {company}, I'm the AI receptionist."})
    assert c.connect().say == "Welcome to Praxis Dr. Berger, I'm the AI receptionist."


@pytest.mark.parametrize("greeting", ["Willkommen bei {firma}! Ich bin eine KI.", "KI-Assistentin {0} {} {company!r}",
                                      "Hallo {{company}} {company.__class__} – KI"])
def test_a_greeting_with_stray_braces_is_spoken_as_written(greeting: str) -> None:
    turn = call("de", greeting={"de": greeting}).connect()
    assert turn.intent == "greeting" and turn.say.startswith(greeting.split("{")[0])
    assert "{" in turn.say and "Praxis Dr. Berger" not in turn.say.split("{")[0]


# ------------------------------------------------------------------------------------------------------- FAQ
@pytest.mark.parametrize("lang", LANGS)
def test_covered_question_is_answered_from_the_entry_then_anything_else(lang: str) -> None:
    c = call(lang)
    c.connect()
    turn = c.say(SAY[lang]["hours"])
    entry = next(e for e in ENTRIES if e.id == f"{lang}:1")
    assert turn.intent == "faq" and turn.entry == entry
    assert turn.say.endswith(phrase(lang, "anything_else"))
    assert "**" not in turn.say and "- " not in turn.say
    assert ("8 bis 12 Uhr" in turn.say) if lang == "de" else ("8 am to 12 pm" in turn.say)
    assert not turn.actions and turn.expecting == "question"


@pytest.mark.parametrize("lang", LANGS)
def test_followup_is_asked_with_the_previous_question(lang: str) -> None:
    lookup = KeywordLookup()
    c = call(lang, lookup=lookup)
    c.connect()
    c.say(SAY[lang]["hours"])
    turn = c.say(SAY[lang]["followup"])
    assert turn.intent == "faq" and turn.entry.id == f"{lang}:2"
    assert lookup.queries[-1][0] == f"{SAY[lang]['hours']} {SAY[lang]['followup']}"
    # a lone "und am Samstag?" with no previous question is not answerable by itself
    c2 = call(lang)
    c2.connect()
    assert c2.say(SAY[lang]["followup"]).intent == "not_covered"


@pytest.mark.parametrize("lang", LANGS)
def test_only_answerable_results_are_stated(lang: str) -> None:
    def unsure(question: str, language: str | None) -> SearchResult:
        return SearchResult(question, (Hit(ENTRIES[2], 0.4),), answerable=False, confidence=0.4)

    c = call(lang, lookup=unsure)
    c.connect()
    turn = c.say(SAY[lang]["parking"])
    assert turn.intent == "not_covered" and turn.entry is None
    assert "Parkpl" not in turn.say and "parking spaces" not in turn.say
    assert turn.say == phrase(lang, "not_covered_open")


@pytest.mark.parametrize("lang", LANGS)
def test_lookup_failure_hands_off_instead_of_crashing(lang: str) -> None:
    c = call(lang, lookup=KeywordLookup(fail=True))
    c.connect()
    assert c.say(SAY[lang]["hours"]).intent == "not_covered"


# ------------------------------------------------------------------------------------------ hand-off, transfer
@pytest.mark.parametrize("lang", LANGS)
def test_not_covered_offers_transfer_in_office_hours(lang: str) -> None:
    c = call(lang)
    c.connect()
    offer = c.say(SAY[lang]["uncovered"])
    assert offer.intent == "not_covered" and offer.say == phrase(lang, "not_covered_open")
    turn = c.say(SAY[lang]["yes"])
    assert turn.actions == (Transfer("+493012345678"),) and turn.post_speech == turn.actions
    assert turn.say == phrase(lang, "transfer")
    assert c.session.final_outcome == "transferred"


@pytest.mark.parametrize("lang", LANGS)
def test_declined_offer_goes_back_to_questions(lang: str) -> None:
    c = call(lang)
    c.connect()
    c.say(SAY[lang]["uncovered"])
    turn = c.say(SAY[lang]["no"])
    assert turn.intent == "handoff_declined" and not turn.actions and turn.expecting == "question"
    assert c.say(SAY[lang]["hours"]).intent == "faq"


@pytest.mark.parametrize("lang", LANGS)
def test_ask_for_person_in_office_hours_transfers(lang: str) -> None:
    c = call(lang)
    c.connect()
    turn = c.say(SAY[lang]["person"])
    assert turn.intent == "ask_person" and turn.actions == (Transfer("+493012345678"),)
    assert turn.language == lang


@pytest.mark.parametrize("lang", LANGS)
def test_keypad_zero_transfers(lang: str) -> None:
    c = call(lang)
    c.connect()
    assert c.dtmf("0").actions == (Transfer("+493012345678"),)


@pytest.mark.parametrize("lang", LANGS)
def test_ask_for_person_outside_office_hours_takes_a_message(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    turn = c.say(SAY[lang]["person"])
    assert not turn.actions and turn.say == phrase(lang, "closed_take_message") and turn.expecting == "name"


@pytest.mark.parametrize("lang", LANGS)
def test_berlin_public_holiday_takes_a_message(lang: str) -> None:
    c = call(lang, when=at("2026-12-25 10:00"))  # Friday, Christmas Day: normally open
    c.connect()
    turn = c.say(SAY[lang]["person"])
    assert not turn.actions and turn.say == phrase(lang, "holiday_take_message")


@pytest.mark.parametrize("lang", LANGS)
def test_bavarian_holiday_only_in_bavaria(lang: str) -> None:
    epiphany = at("2026-01-06 10:00")
    by, be = call(lang, when=epiphany, bundesland="BY"), call(lang, when=epiphany, bundesland="BE")
    by.connect()
    be.connect()
    assert by.say(SAY[lang]["person"]).say == phrase(lang, "holiday_take_message")
    assert be.say(SAY[lang]["person"]).actions == (Transfer("+493012345678"),)


@pytest.mark.parametrize("lang", LANGS)
def test_without_secretary_number_a_message_is_taken_even_in_office_hours(lang: str) -> None:
    c = call(lang, secretary=False)
    c.connect()
    turn = c.say(SAY[lang]["person"])
    assert not turn.actions and turn.expecting == "name"


# ------------------------------------------------------------------------------------------------- messages
def _take_message(c: Caller, lang: str, concern_key: str = "concern") -> list:
    turns = [c.say(SAY[lang]["name"]), c.say(SAY[lang]["number"]), c.say(SAY[lang]["correction"]),
             c.say(SAY[lang]["yes"]), c.say(SAY[lang][concern_key])]
    return turns


@pytest.mark.parametrize("lang", LANGS)
def test_transfer_failure_leads_to_a_complete_message(lang: str) -> None:
    c = call(lang)
    c.connect()
    c.say(SAY[lang]["person"])
    failed = c.event("transfer_failed", reason="no-answer")
    assert failed.say == phrase(lang, "transfer_failed") and failed.expecting == "name"
    assert c.session.transferred_to is None
    name_t, number_t, corr_t, yes_t, concern_t = _take_message(c, lang)
    assert number_t.expecting == "confirm_number"
    assert number_t.say == phrase(lang, "confirm_number", digits=speak_digits("+491712345647", lang))
    assert corr_t.say == phrase(lang, "confirm_number", digits=speak_digits("+491712345648", lang))
    assert yes_t.expecting == "concern" and concern_t.expecting == "urgency"
    saved = c.say(SAY[lang]["no"])
    (action,) = saved.actions
    assert isinstance(action, SaveMessage) and saved.pre_speech == (action,)
    msg = action.message
    assert (msg.name, msg.number, msg.concern, msg.urgency, msg.language, msg.complete) == (
        NAME[lang], "+491712345648", SAY[lang]["concern"], "normal", lang, True)
    assert saved.say == phrase(lang, "message_saved", name=NAME[lang], digits=speak_digits("+491712345648", lang))
    assert c.session.final_outcome == "message" and c.session.message == msg
    bye = c.say(SAY[lang]["bye"])
    assert bye.ends_call and bye.say == phrase(lang, "goodbye")


@pytest.mark.parametrize("lang", LANGS)
def test_uncovered_question_outside_hours_becomes_the_concern_and_urgency_is_detected(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    offer = c.say(SAY[lang]["urgent_concern"])
    assert offer.say == phrase(lang, "not_covered_closed")
    assert c.say(SAY[lang]["yes"]).say == phrase(lang, "message_start")
    c.say(SAY[lang]["name"])
    c.say(SAY[lang]["number"])
    saved = c.say(SAY[lang]["yes"])  # urgency came from the concern: no question
    (action,) = saved.actions
    assert action.message.concern == SAY[lang]["urgent_concern"] and action.message.urgency == "urgent"
    assert action.message.number == "+491712345647"
    assert saved.say == phrase(lang, "message_saved_urgent", name=NAME[lang],
                               digits=speak_digits("+491712345647", lang))


@pytest.mark.parametrize("lang", LANGS)
def test_save_failure_is_never_confirmed(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    _take_message(c, lang, "urgent_concern")
    assert c.turns[-1].intent == "message_saved"
    failed = c.event("action_failed", reason="database locked")
    assert failed.intent == "save_failed" and not failed.actions
    assert failed.say == phrase(lang, "save_failed_with_number", digits=speak_digits("+493012345678", lang))
    assert phrase(lang, "message_saved", name="", digits="")[:15] not in failed.say
    assert c.session.message is None and c.session.final_outcome != "message"


@pytest.mark.parametrize("lang", LANGS)
def test_caller_id_is_offered_and_used(lang: str) -> None:
    c = call(lang, when=CLOSED, caller_id="+491609876543")
    c.connect()
    c.say(SAY[lang]["message"])
    offer = c.say(SAY[lang]["name"])
    assert offer.expecting == "caller_id_confirm" and speak_digits("+491609876543", lang) in offer.say
    assert c.say(SAY[lang]["yes"]).expecting == "concern"
    c.say(SAY[lang]["concern"])
    saved = c.say(SAY[lang]["yes"])  # "Ist es dringend?" -> yes
    assert saved.actions[0].message.number == "+491609876543" and saved.actions[0].message.urgency == "urgent"


@pytest.mark.parametrize("lang", LANGS)
def test_keypad_number_ending_with_hash(lang: str) -> None:
    c = call(lang, when=CLOSED, caller_id="+491609876543")
    c.connect()
    c.say(SAY[lang]["message"])
    c.say(SAY[lang]["name"])
    assert c.say(SAY[lang]["no"]).expecting == "number"  # not the caller ID
    assert c.dtmf("0171").say == "" and c.dtmf("2345678").say == ""  # collecting, no '#' yet
    confirm = c.dtmf("#")
    assert confirm.say == phrase(lang, "confirm_number", digits=speak_digits("+491712345678", lang))
    assert c.dtmf("0").actions == ()  # a keypad 0 while giving a number is a digit, not "transfer me"


@pytest.mark.parametrize("lang", LANGS)
def test_number_dictated_in_two_parts_and_invalid_numbers(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    c.say(SAY[lang]["name"])
    part = c.say(SAY[lang]["number"].split(",")[0])  # "null eins sieben eins" ...
    assert part.expecting == "number" and part.say.startswith(phrase(lang, "number_partial", digits="")[:8])
    rest = c.say(SAY[lang]["number"].split(",")[1])  # ... "zwo drei vier fünf sechs vier sieben"
    assert rest.expecting == "confirm_number"
    assert c.say(SAY[lang]["no"]).expecting == "number"
    bad = c.say("1 2 3 4 5 6 7 8 9 1 2 3 4 5")
    assert bad.intent == "number_invalid"


# --------------------------------------------------------------------------------- repeat, silence, goodbye
@pytest.mark.parametrize("lang", LANGS)
def test_repeat_request_repeats_the_last_content(lang: str) -> None:
    c = call(lang)
    c.connect()
    answer = c.say(SAY[lang]["hours"])
    again = c.say(SAY[lang]["repeat"])
    assert again.intent == "repeat" and again.say == answer.say


@pytest.mark.parametrize("lang", LANGS)
def test_silence_reprompts_twice_then_says_goodbye(lang: str) -> None:
    c = call(lang)
    c.connect()
    first = c.silence()
    assert first.say.startswith(phrase(lang, "silence_reprompt")) and not first.actions
    c.say(SAY[lang]["hours"])  # speech resets the count
    assert not c.silence().actions
    assert not c.silence().actions
    last = c.silence()
    assert last.say == phrase(lang, "silence_goodbye") and last.actions == (HangUp(),)
    assert c.session.handle(CallerInput("speech", OPEN, text="hallo")).say == ""  # ended: nothing more


@pytest.mark.parametrize("lang", LANGS)
def test_silence_while_taking_a_message_reasks_the_slot(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    assert c.silence().say == f"{phrase(lang, 'silence_reprompt')} {phrase(lang, 'ask_name')}"


@pytest.mark.parametrize("lang", LANGS)
def test_goodbye_hangs_up(lang: str) -> None:
    c = call(lang)
    c.connect()
    c.say(SAY[lang]["hours"])
    turn = c.say(SAY[lang]["bye"])
    assert turn.ends_call and turn.say == phrase(lang, "goodbye")
    assert c.session.final_outcome == "answered"


@pytest.mark.parametrize("lang", LANGS)
def test_no_after_anything_else_says_goodbye(lang: str) -> None:
    c = call(lang)
    c.connect()
    c.say(SAY[lang]["hours"])
    assert c.say(SAY[lang]["no"]).ends_call


@pytest.mark.parametrize("lang", LANGS)
def test_unintelligible_asks_to_repeat_then_offers_a_message(lang: str) -> None:
    c = call(lang)
    c.connect()
    assert c.say("").say == phrase(lang, "not_understood")
    assert c.say("...").say == phrase(lang, "not_understood")
    third = c.say("[Musik]")
    assert third.say == phrase(lang, "not_understood_offer") and third.expecting == "name"


@pytest.mark.parametrize("lang", LANGS)
def test_barge_in_is_recorded_and_stale_content_not_repeated(lang: str) -> None:
    c = call(lang)
    c.connect()
    answer = c.say(SAY[lang]["hours"])
    cut = c.event("barge_in")
    assert cut.say == "" and not cut.actions and c.session.last_turn_cut
    assert c.session.transcript[-2]["cut"] is True
    nxt = c.say(SAY[lang]["parking"])
    assert nxt.intent == "faq" and answer.say not in nxt.say and nxt.entry.id == f"{lang}:3"
    assert not c.session.last_turn_cut


@pytest.mark.parametrize("lang", LANGS)
def test_hangup_mid_message_keeps_the_partial_message(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    c.say(SAY[lang]["name"])
    c.say(SAY[lang]["number"])
    c.say(SAY[lang]["yes"])
    end = c.event("hangup")
    (action,) = end.actions
    assert action.message.complete is False and action.message.number == "+491712345647"
    assert c.session.final_outcome == "abandoned"


@pytest.mark.parametrize("lang", LANGS)
def test_hangup_after_the_name_saves_a_partial_with_the_caller_id(lang: str) -> None:
    c = call(lang, when=CLOSED, caller_id="+491609876543")
    c.connect()
    c.say(SAY[lang]["message"])
    c.say(SAY[lang]["name"])
    (action,) = c.event("hangup").actions
    assert action.message.complete is False
    assert action.message.number == "+491609876543" and action.message.name != ""


@pytest.mark.parametrize("lang", LANGS)
def test_hangup_after_dictated_unconfirmed_digits_keeps_them(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    c.say(SAY[lang]["name"])
    c.say(SAY[lang]["number"])  # read back, not yet confirmed
    (action,) = c.event("hangup").actions
    assert action.message.complete is False and action.message.number == "+491712345647"


@pytest.mark.parametrize("lang", LANGS)
def test_hangup_before_any_slot_without_caller_id_saves_nothing(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    assert c.event("hangup").actions == ()


# ---------------------------------------------------------------------------------------------- language
@pytest.mark.parametrize("company,caller", [("de", "en"), ("en", "de")])
def test_caller_in_the_other_language_is_followed_from_the_first_utterance(company: str, caller: str) -> None:
    c = call(company)
    assert c.connect().language == company
    turn = c.say(SAY[caller]["hours"])
    assert turn.language == caller and turn.entry.id == f"{caller}:1"
    assert turn.say.endswith(phrase(caller, "anything_else"))
    assert c.say(SAY[caller]["person"]).say == phrase(caller, "transfer")


def test_recogniser_language_decides_when_text_is_undecided() -> None:
    c = call("de")
    c.connect()
    turn = c.say("Michael Schumacher Kerpen Formel", language="en")
    assert turn.language == "en"


def test_company_languages_limit_switching() -> None:
    c = call("de", languages=("de",))
    c.connect()
    assert c.say(SAY["en"]["person"]).language == "de"


@pytest.mark.parametrize("company,utterance,lang", [("de", "Hallo?", "de"), ("de", "Do you speak English?", "en"),
                                                    ("en", "Guten Tag", "de"), ("en", "Hello?", "en")])
def test_hello_invites_the_question_in_the_callers_language(company: str, utterance: str, lang: str) -> None:
    c = call(company)
    c.connect()
    turn = c.say(utterance)
    assert turn.intent == "hello" and turn.say == phrase(lang, "how_can_i_help") and turn.language == lang


@pytest.mark.parametrize("lang,utterance", [("de", "Danke, und wo kann ich parken?"),
                                            ("en", "Thank you for the information, where do I park?")])
def test_a_question_that_starts_with_thanks_never_ends_the_call(lang: str, utterance: str) -> None:
    c = call(lang, lookup=lambda q, language: SearchResult(q))
    c.connect()
    turn = c.say(utterance)
    assert not turn.ends_call and turn.intent == "not_covered"


def test_entry_only_in_the_other_language_is_read_by_that_voice() -> None:
    german_only = KeywordLookup([e for e in ENTRIES if e.language == "de"])
    c = call("de", lookup=german_only)
    c.connect()
    turn = c.say("Is there parking at the Praxis, Parkplätze?", language="en")
    assert turn.entry.id == "de:3" and turn.language == "de"
    assert turn.say.startswith("Ja, im Hof gibt es vier Parkplätze.") and turn.say.endswith(
        phrase("de", "anything_else"))
    assert c.session.language == "en"  # the caller still gets English from the next turn on
    assert c.say("thank you, goodbye").say == phrase("en", "goodbye")


def test_a_late_unrelated_action_failure_does_not_unsave_the_message() -> None:
    c = call("de", when=CLOSED)
    c.connect()
    c.say(SAY["de"]["message"])
    _take_message(c, "de", "urgent_concern")
    saved = c.session.message
    assert saved is not None and c.turns[-1].intent == "message_saved"
    c.say(SAY["de"]["hours"])  # the carrier moved on: the save went through
    late = c.event("action_failed", reason="hangup failed")
    assert late.intent == "action_failed" and late.say == "" and c.session.message == saved


@pytest.mark.parametrize("lang", LANGS)
def test_keyed_number_without_hash_is_read_back_after_a_pause(lang: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    c.say(SAY[lang]["name"])
    assert c.dtmf("01712345678").say == ""
    assert c.silence().say == phrase(lang, "confirm_number", digits=speak_digits("+491712345678", lang))


@pytest.mark.parametrize("lang,wrong,fix", [
    ("de", "null eins sieben eins, zwo drei vier fünf sechs sieben", "fünf sechs sieben acht statt fünf sechs sieben"),
    ("en", "zero one seven one, two three four five six seven", "not five six seven but five six seven eight"),
])
def test_invalid_number_is_read_out_and_can_be_corrected(lang: str, wrong: str, fix: str) -> None:
    c = call(lang, when=CLOSED)
    c.connect()
    c.say(SAY[lang]["message"])
    c.say(SAY[lang]["name"])
    bad = c.say(wrong)  # a 0171 number has seven subscriber digits: one is missing
    assert bad.intent == "number_invalid" and bad.details["heard"] == "0171234567"
    spelled = " ".join(prompts.load(lang, "phrases")["digits"][int(d)] for d in "0171234567")
    assert bad.say == phrase(lang, "number_invalid_heard", digits=spelled)
    fixed = c.say(fix)
    assert fixed.say == phrase(lang, "confirm_number", digits=speak_digits("+491712345678", lang))


def test_a_male_secretary_is_named_in_the_dative_and_accusative() -> None:
    c = call("de", secretary_name="Herr Huber")
    c.connect()
    assert c.say("Kann ich mit Herrn Huber sprechen?").say == "Einen Moment bitte, ich verbinde Sie mit Herrn Huber."
    c = call("de", secretary_name="Frau Herrmann")
    c.connect()
    assert c.say("Kann ich mit Frau Herrmann sprechen?").say.endswith("mit Frau Herrmann.")
