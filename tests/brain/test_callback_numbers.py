"""Premium-rate and service numbers are never taken as a callback (or transfer) number: the caller is asked again.

A message promises a call back; to 0900 …, +1 900 …, 0137 … or 0180 … that call costs the company a premium or
shared-cost rate (toll fraud). The brain refuses such a number politely and asks for another one, the store refuses
to save one, and a company's transfer number cannot be one either.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

import prompts
from bot.brain.numbers import is_callback_number, speak_digits
from bot.brain.receptionist import Receptionist
from bot.brain.types import CallMessage, SaveMessage
from bot.settings import Settings
from bot.store import repo, validate
from bot.store.db import init_db, session_scope
from bot.store.models import Message, Outbox
from tests.support.brain_support import CLOSED, Caller, KeywordLookup, profile
from tests.brain.test_brain_cli import parse, run_call, saved_messages

GOOD = {"de": ("null eins sieben eins, zwo drei vier fünf sechs vier sieben", "+491712345647"),
        "en": ("zero one seven one, two three four five six four seven", "+491712345647")}
NAME = {"de": "Mein Name ist Max Müller", "en": "My name is John Smith"}
MESSAGE = {"de": "Ich möchte eine Nachricht hinterlassen", "en": "I'd like to leave a message"}
YES = {"de": "ja", "en": "yes"}
NO = {"de": "nein", "en": "no"}
CONCERN = {"de": "Es geht um mein Rezept", "en": "It's about my prescription"}

# What the recogniser hands the brain (numerals or words), and the number it stands for.
NUMERALS = [
    ("0900 1234567", "+499001234567"),  # German premium rate
    ("+49 900 1234567", "+499001234567"),
    ("+1 900 555 1234", "+19005551234"),  # North American premium rate
    ("0137 1234567", "+491371234567"),  # German mass-traffic (televoting)
    ("0180 5 123456", "+491805123456"),  # German shared-cost service number
    ("+44 909 012 3456", "+449090123456"),  # UK premium rate
]
REFUSED = [(lang, spoken, e164) for lang in ("de", "en") for spoken, e164 in NUMERALS] + [
    ("de", "null neun null null, eins zwei drei vier fünf sechs sieben", "+499001234567"),
    ("en", "zero nine double zero, one two three four five six seven", "+499001234567"),
    ("en", "plus one nine zero zero, triple five, one two three four", "+19005551234"),
]


def phrase(lang: str, key: str, **kw: str) -> str:
    return prompts.load(lang, "phrases")[key].format(**kw)


def message_call(lang: str, caller_id: str | None = None) -> Caller:
    c = Caller(Receptionist(profile(lang), KeywordLookup()).session(), CLOSED, caller_id)
    c.connect()
    c.say(MESSAGE[lang])
    return c


@pytest.mark.parametrize("lang,spoken,e164", REFUSED)
def test_a_premium_or_service_number_is_refused_and_the_caller_asked_again(lang: str, spoken: str, e164: str) -> None:
    c = message_call(lang)
    assert c.say(NAME[lang]).expecting == "number"
    refused = c.say(spoken)
    assert refused.intent == "number_refused" and refused.expecting == "number" and not refused.actions
    assert refused.say == phrase(lang, "number_refused_premium", digits=speak_digits(e164, lang))
    assert refused.details["refused"] == e164
    assert c.say("wie bitte?" if lang == "de" else "could you repeat that").say == refused.say  # repeat: same words
    good_words, good = GOOD[lang]
    confirm = c.say(good_words)  # a normal mobile number afterwards is read back as usual
    assert confirm.expecting == "confirm_number"
    assert confirm.say == phrase(lang, "confirm_number", digits=speak_digits(good, lang))
    assert c.say(YES[lang]).expecting == "concern"
    c.say(CONCERN[lang])
    saved = c.say(NO[lang])  # not urgent
    (action,) = saved.actions
    assert isinstance(action, SaveMessage) and action.message.number == good


@pytest.mark.parametrize("lang", ("de", "en"))
def test_a_keyed_premium_number_is_refused(lang: str) -> None:
    c = message_call(lang)
    c.say(NAME[lang])
    assert c.dtmf("09001234567").say == ""  # still collecting
    refused = c.dtmf("#")
    assert refused.intent == "number_refused"
    assert refused.say == phrase(lang, "number_refused_premium", digits=speak_digits("+499001234567", lang))
    assert c.dtmf("030123456#").expecting == "confirm_number"  # a Berlin landline is fine


@pytest.mark.parametrize("lang", ("de", "en"))
def test_a_premium_correction_of_a_read_back_number_is_refused(lang: str) -> None:
    c = message_call(lang)
    c.say(NAME[lang])
    assert c.say(GOOD[lang][0]).expecting == "confirm_number"
    refused = c.say("0900 1234567")  # "no, it is 0900 …" while confirming
    assert refused.intent == "number_refused" and refused.expecting == "number"


@pytest.mark.parametrize("lang", ("de", "en"))
def test_a_premium_caller_id_is_not_offered_as_the_callback_number(lang: str) -> None:
    c = message_call(lang, caller_id="+49 900 1234567")
    ask = c.say(NAME[lang])
    assert ask.expecting == "number" and "900" not in ask.say
    assert ask.say == phrase(lang, "ask_number", name=NAME[lang].split()[-2] + " " + NAME[lang].split()[-1])
    ok = message_call(lang, caller_id="+49 160 9876543")  # an ordinary caller ID still is
    assert ok.say(NAME[lang]).expecting == "caller_id_confirm"


@pytest.mark.parametrize("number", ["+491711234567", "+49301234567", "+498001234567", "+4970012345678",
                                    "+12125551234", "+441234567890"])
def test_ordinary_numbers_may_be_called_back(number: str) -> None:
    """Mobile, landline, toll-free 0800, personal 0700 and foreign ordinary numbers stay accepted."""
    assert is_callback_number(number)
    assert validate.callback_number(number) == number


@pytest.mark.parametrize("number", ["0900 1234567", "+1 900 555 1234", "0137 1234567", "0180 5 123456",
                                    "01806 123456", "+44 909 012 3456", "+33 8 36 65 65 65"])
def test_the_store_refuses_premium_and_service_numbers(number: str) -> None:
    with pytest.raises(validate.InvalidInput, match="premium-rate or service number"):
        validate.callback_number(number)


def test_save_message_refuses_a_premium_number_and_stores_nothing(settings: Settings) -> None:
    init_db(settings)
    with session_scope(settings) as session:
        repo.create_company(session, "praxis-test", "Praxis Test", email="praxis@example.org")
        bad = CallMessage(name="Erika Muster", number="+499001234567", concern="Rückruf", urgency="normal",
                          language="de")
        with pytest.raises(validate.InvalidInput, match="premium-rate or service number"):
            repo.save_message(session, "praxis-test", bad)
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0
        good = repo.save_message(session, "praxis-test", CallMessage(
            name="Erika Muster", number="0171 2345678", concern="Rückruf", urgency="normal", language="de"))
        assert good.caller_number == "+491712345678"


def test_a_premium_transfer_number_is_refused_for_a_company(settings: Settings) -> None:
    """The settings form and the API PATCH both go through the company field checks."""
    init_db(settings)
    with session_scope(settings) as session:
        repo.create_company(session, "praxis-test", "Praxis Test", secretary_number="030 7654321")
        with pytest.raises(validate.InvalidInput, match="cannot be the transfer number"):
            repo.update_company(session, "praxis-test", secretary_number="0900 1234567")
        session.rollback()
        assert repo.get_company(session, "praxis-test").secretary_number == "+49307654321"
        with pytest.raises(validate.InvalidInput, match="cannot be the transfer number"):
            repo.create_company(session, "praxis-neu", "Praxis Neu", secretary_number="+1 900 555 1234")


@pytest.mark.slow
def test_text_call_saves_the_good_number_after_refusing_a_premium_one(tmp_path: Path) -> None:
    """`receptionist call --text` end to end: the refusal is spoken, the message on disk has the good number."""
    data = tmp_path / "data"
    lines = ["Ich möchte eine Nachricht hinterlassen", "Max Müller", "0900 1234567",
             "null eins sieben eins, zwo drei vier fünf sechs vier sieben", "ja", "Es geht um mein Rezept", "nein"]
    turns, final = parse(run_call(tmp_path, lines, "--at", "2026-12-01T20:15", "--lang", "de", data_dir=data))
    refused = next(t for t in turns if t["intent"] == "number_refused")
    assert refused["bot"] == phrase("de", "number_refused_premium", digits=speak_digits("+499001234567", "de"))
    assert final["message"]["number"] == "+491712345647"
    assert [m["number"] for m in saved_messages(data)] == ["+491712345647"]
