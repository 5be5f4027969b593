"""Office hours (time zone, Bundesland holidays), speech framing of written answers, intents, language check."""

from datetime import datetime, timezone

import pytest

from bot.brain.hours import office_status
from bot.brain.intents import default_classifier, extract_name, is_followup, is_noise, urgency_of
from bot.brain.language import caller_language, text_language
from bot.brain.speech import for_speech
from tests.support.brain_support import at, profile


@pytest.mark.parametrize("when,open_", [
    ("2026-12-01 10:00", True),   # Tuesday morning
    ("2026-12-01 12:30", False),  # lunch break
    ("2026-12-01 17:59", True),
    ("2026-12-01 18:00", False),  # end is exclusive
    ("2026-12-05 10:00", False),  # Saturday
    ("2026-12-24 20:15", False),  # Christmas Eve evening
])
def test_office_hours_weekly(when: str, open_: bool) -> None:
    assert office_status(profile(), at(when)).open is open_


def test_office_hours_use_company_time_zone() -> None:
    # 09:30 UTC is 10:30 in Berlin (open) but 04:30 in New York (closed)
    utc = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    assert office_status(profile(), utc).open is True
    assert office_status(profile(timezone="America/New_York"), utc).open is False


def test_public_holiday_berlin() -> None:
    status = office_status(profile(bundesland="BE"), at("2026-12-25 10:00"))  # a Friday, Christmas Day
    assert status.open is False and status.holiday


def test_bavaria_only_holiday() -> None:
    epiphany = at("2026-01-06 10:00")  # Tuesday; Heilige Drei Könige is a holiday in BY, not in BE
    assert office_status(profile(bundesland="BY"), epiphany).open is False
    assert office_status(profile(bundesland="BY"), epiphany).holiday
    assert office_status(profile(bundesland="BE"), epiphany).open is True


def test_no_office_hours_means_no_transfer() -> None:
    assert office_status(profile(office_hours=()), at("2026-12-01 10:00")).open is False


def test_naive_clock_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        office_status(profile(), datetime(2026, 12, 1, 10))


def test_speech_framing_german() -> None:
    written = ("**Öffnungszeiten:**\n- Mo–Fr 08:00–12:00 und 14:00–18:00 Uhr\n- Sa 9–12 Uhr\n"
               "Mehr unter https://www.praxis-berger.de/zeiten oder [per Mail](mailto:x) info@praxis-berger.de. "
               "Telefon: 030 1234567")
    spoken = for_speech(written, "de")
    assert "**" not in spoken and "http" not in spoken and "- " not in spoken and "@" not in spoken
    assert "Montag bis Freitag 8 bis 12 Uhr und 14 bis 18 Uhr" in spoken
    assert "Samstag 9 bis 12 Uhr" in spoken
    assert "praxis Bindestrich berger Punkt D E" in spoken
    assert "info, at, praxis Bindestrich berger Punkt D E" in spoken
    assert "null drei null, eins zwo drei, vier fünf, sechs sieben" in spoken


def test_speech_framing_english_keeps_facts() -> None:
    spoken = for_speech("We are open Mon-Fri 8:00-17:30. The fee is 25 EUR (since 2026).", "en")
    assert spoken == "We are open Monday to Friday 8 am to 5:30 pm. The fee is 25 euros (since 2026)."


@pytest.mark.parametrize("text,intent", [
    ("Kann ich mit Frau Berger sprechen?", "ask_person"),
    ("Ich möchte bitte mit Herrn Doktor Schulz sprechen", "ask_person"),
    ("a real person please", "ask_person"),
    ("Can I speak with the manager?", "ask_person"),
    ("Ich möchte eine Nachricht hinterlassen", "leave_message"),
    ("could someone call me back", "leave_message"),
    ("wie bitte?", "repeat"),
    ("could you repeat that", "repeat"),
    ("Danke, tschüss", "goodbye"),
    ("thanks, bye", "goodbye"),
    ("ja, das stimmt", "yes"),
    ("yes, that's correct", "yes"),
    ("Nein", "no"),
    ("Haben Sie am Samstag geöffnet?", "question"),
    ("Do you have parking?", "question"),
])
def test_intent_classifier(text: str, intent: str) -> None:
    assert default_classifier().classify(text).intent == intent


@pytest.mark.parametrize("text,lang", [
    ("Kann ich mit Frau Berger sprechen?", "de"), ("Haben Sie heute geöffnet?", "de"), ("Ja, bitte", "de"),
    ("Can I speak to someone please?", "en"), ("Do you have parking?", "en"), ("Yes please", "en"),
    ("Max Mustermann", None), ("OK", None),
])
def test_text_language(text: str, lang: str | None) -> None:
    assert text_language(text) == lang


def test_caller_language_prefers_clear_text_over_short_recogniser_tag() -> None:
    assert caller_language("Ja, bitte", "en", "en", ("de", "en")) == "de"
    assert caller_language("Okay", "en", "de", ("de", "en")) == "de"  # too short to trust the tag
    assert caller_language("Okay Michael Schumacher Berlin", "en", "de", ("de", "en")) == "en"
    assert caller_language("Do you have parking?", None, "de", ("de",)) == "de"  # company speaks German only


@pytest.mark.parametrize("text,urgency", [
    ("Es ist dringend", "urgent"), ("ein Notfall!", "urgent"), ("asap please", "urgent"),
    ("this is urgent", "urgent"), ("nicht dringend", "normal"), ("it's not urgent", "normal"),
    ("Termin verschieben", None),
])
def test_urgency(text: str, urgency: str | None) -> None:
    assert urgency_of(text) == urgency


def test_names_followups_noise() -> None:
    assert extract_name("Mein Name ist max müller.") == "Max Müller"
    assert extract_name("Yes, this is John Smith") == "John Smith"
    assert extract_name("Müller") == "Müller"
    assert is_followup("und am Samstag?") and is_followup("and on Saturday?")
    assert not is_followup("Ich möchte wissen, ob Sie neue Patienten aufnehmen")
    assert is_noise("") and is_noise("...") and is_noise("[Musik]") and not is_noise("ja")


def test_times_that_already_say_am_pm_are_left_alone() -> None:
    from bot.brain.speech import for_speech

    assert for_speech("from 2 pm to 5:30 pm, at 17:30", "en") == "from 2 pm to 5:30 pm, at 5:30 pm"
