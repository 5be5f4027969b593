"""Consent (issue 16): the recording notice, and the caller's objection honoured in every state and in LLM mode."""

from __future__ import annotations

import pytest

import prompts
from bot.brain.consent import objects_to_recording
from bot.brain.receptionist import Receptionist
from bot.brain.types import SaveMessage, StopRecording
from tests.brain.test_brain_llm import ScriptedServer, llm_session, server, speech  # noqa: F401 - fixture
from tests.support.brain_support import CLOSED, OPEN, Caller, KeywordLookup, profile

OBJECTIONS = {
    "de": ["Ich möchte nicht aufgezeichnet werden.", "Bitte keine Aufzeichnung!", "keine aufzeichnung",
           "Ich widerspreche der Aufzeichnung.", "Können Sie die Aufnahme bitte stoppen?",
           "Ich will nicht, dass das Gespräch mitgeschnitten wird"],
    "en": ["I do not want to be recorded.", "No recording, please.", "Please stop the recording.",
           "I object to being recorded", "don't record me", "I'd rather not be recorded"],
}
# ordinary questions that share words with an objection: never a reason to stop anything
NOT_OBJECTIONS = {
    "de": ["Ist eine Aufnahme in die Praxis heute nicht möglich?", "Nehmen Sie neue Patienten auf?",
           "Wird mein Termin nicht gespeichert?", "Nehmen Sie keine neuen Patienten mehr auf?",
           "Ich habe keine Aufnahmebestätigung bekommen"],
    "en": ["I don't have a record of my appointment", "Was my booking not recorded?", "Do you record X-rays?",
           "No, that was a different appointment", "Can you take a message?"],
}


def phrase(lang: str, key: str, **kw: str) -> str:
    return prompts.load(lang, "phrases")[key].format(**kw)


@pytest.mark.parametrize("lang", ("de", "en"))
def test_objections_are_recognised_and_ordinary_questions_are_not(lang: str) -> None:
    assert [t for t in OBJECTIONS[lang] if not objects_to_recording(t, lang)] == []
    assert [t for t in NOT_OBJECTIONS[lang] if objects_to_recording(t, lang)] == []


def test_an_objection_in_the_other_language_counts() -> None:
    assert objects_to_recording("no recording please", "de") and objects_to_recording("Keine Aufzeichnung", "en")


def call(lang: str = "de", when=OPEN, **kw) -> Caller:
    return Caller(Receptionist(profile(lang, **kw), KeywordLookup()).session(), when)


@pytest.mark.parametrize("lang", ("de", "en"))
def test_a_recording_company_announces_it_after_the_greeting_and_the_ai_notice(lang: str) -> None:
    say = call(lang, recording_enabled=True).connect().say
    standard = call(lang).connect().say
    assert say == f"{standard} {phrase(lang, 'recording_notice')}"
    assert ("KI" in say) if lang == "de" else ("AI" in say)  # the AI notice stays


def test_the_company_notice_replaces_the_standard_one_and_the_ai_notice_stays() -> None:
    notice = "Zur Qualitätssicherung zeichnet {company} dieses Gespräch auf."
    say = call("de", recording_enabled=True, recording_notice={"de": notice},
               greeting={"de": "Praxis Berger, guten Tag!"}).connect().say
    assert say == ("Praxis Berger, guten Tag! " + phrase("de", "ai_disclosure")
                   + " Zur Qualitätssicherung zeichnet Praxis Dr. Berger dieses Gespräch auf.")


def test_no_notice_when_recording_is_off_or_nothing_is_kept() -> None:
    notice = phrase("de", "recording_notice")
    assert notice not in call("de").connect().say
    assert notice not in call("de", recording_enabled=True, retention_days=0).connect().say


@pytest.mark.parametrize("lang", ("de", "en"))
def test_an_objection_stops_the_recording_before_the_confirmation_and_the_call_goes_on(lang: str) -> None:
    c = call(lang, recording_enabled=True)
    c.connect()
    turn = c.say(OBJECTIONS[lang][0])
    assert turn.intent == "object_recording" and turn.actions == (StopRecording(),)
    assert [a.phase for a in turn.actions] == ["pre"]
    assert turn.say == phrase(lang, "recording_stopped", then=phrase(lang, "how_can_i_help"))
    assert c.session.recording_objected and c.session.details["recording_objected"] is True
    assert c.say("Wann haben Sie geöffnet?" if lang == "de" else "When are you open?").intent == "faq"


def test_an_objection_where_nothing_is_recorded_is_still_honoured_for_the_transcript() -> None:
    c = call("de")
    c.connect()
    turn = c.say("Bitte keine Aufzeichnung.")
    assert turn.actions == (StopRecording(),)
    assert turn.say == phrase("de", "recording_not_on", then=phrase("de", "how_can_i_help"))
    assert c.session.recording_objected


def test_an_objection_while_giving_a_message_re_asks_the_pending_question_and_the_message_is_kept() -> None:
    c = call("de", when=CLOSED, recording_enabled=True)
    c.connect()
    first = c.say("Ich möchte eine Nachricht hinterlassen")
    assert first.expecting == "name"
    turn = c.say("Moment, ich möchte nicht aufgezeichnet werden.")
    assert turn.intent == "object_recording" and turn.say.endswith(c.session.reask) and turn.expecting == "name"
    assert c.say("Max Müller").expecting in ("number", "confirm_number", "caller_id")
    c.say("null eins sieben eins, zwo drei vier fünf sechs vier sieben")
    c.say("ja")
    c.say("Es geht um mein Rezept")
    done = c.say("nein")
    saves = [a for a in done.actions if isinstance(a, SaveMessage)]
    assert saves and saves[0].message.name == "Max Müller" and c.session.recording_objected


async def test_the_llm_is_never_asked_about_an_objection(server: ScriptedServer) -> None:  # noqa: F811
    session, _ = llm_session(server)
    await session.ahandle(speech("Hallo"))
    asked = len(server.requests)
    turn = await session.ahandle(speech("Ich möchte nicht aufgezeichnet werden"))
    assert turn.intent == "object_recording" and turn.actions == (StopRecording(),)
    assert len(server.requests) == asked  # decided by the FAQ mode's own rule, no model call
