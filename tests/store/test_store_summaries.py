"""Post-call summaries written by the store on a real database (SQLite and PostgreSQL, fixture db_settings)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import prompts
from bot.brain.types import CallMessage
from bot.runtime.outbox import email_message
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from bot.store.models import Call, Outbox

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(db_settings: Settings):
    init_db(db_settings)
    with session_scope(db_settings) as session:
        yield session


def _company(session, **fields):
    return repo.create_company(session, "kfz-huber", name="Kfz Huber", phones=["+49 89 1234567"],
                               default_language=fields.pop("default_language", "de"), **fields)


def _phrase(lang: str, key: str, **kw: str) -> str:
    return prompts.load(lang, "summary")[key].format(**kw)


def test_a_finished_call_gets_summary_priority_and_tags_from_its_transcript(db) -> None:
    _company(db)
    call = repo.start_call(db, "kfz-huber", channel="twilio", caller_number="+49 171 2345678", started_at=T0)
    repo.add_turn(db, call.id, "bot", "Guten Tag …", intent="greeting", at=T0)
    repo.add_turn(db, call.id, "caller", "Wann haben Sie am Samstag geöffnet?", at=T0 + timedelta(seconds=4))
    repo.add_turn(db, call.id, "bot", "Samstags 9 bis 12 Uhr.", intent="faq",
                  entry_question="Öffnungszeiten am Samstag", at=T0 + timedelta(seconds=6))
    repo.finish_call(db, call.id, "answered", ended_at=T0 + timedelta(seconds=20))
    db.expire_all()
    c = db.get(Call, call.id)
    assert c.priority == "low" and c.tags == ["answered"]
    assert c.summary == " ".join([_phrase("de", "wanted", concern="Öffnungszeiten am Samstag"),
                                  _phrase("de", "did_answered", topics="Öffnungszeiten am Samstag"),
                                  _phrase("de", "todo_nothing")])


def test_the_summary_is_in_the_companys_language_and_a_carrier_text_wins(db) -> None:
    _company(db, default_language="en")
    call = repo.start_call(db, "kfz-huber", channel="browser", started_at=T0)
    repo.finish_call(db, call.id, "abandoned", ended_at=T0 + timedelta(seconds=3))
    db.expire_all()
    c = db.get(Call, call.id)
    assert c.summary == f"{_phrase('en', 'wanted_silent')} {_phrase('en', 'todo_nothing')}"
    assert (c.priority, c.tags) == ("spam", ["dead_air"])  # withheld number, nothing said
    repo.finish_call(db, call.id, "abandoned", summary="input error: bad file")
    db.expire_all()
    assert db.get(Call, call.id).summary == "input error: bad file" and db.get(Call, call.id).priority == "spam"


def test_a_message_notification_carries_the_summary_and_the_e_mail_shows_it(db) -> None:
    _company(db, email="werkstatt@example.com", webhook_url="https://hooks.example.com/in")
    call = repo.start_call(db, "kfz-huber", channel="twilio", caller_number="+49 171 2345678", started_at=T0)
    repo.add_turn(db, call.id, "caller", "Meine Yamaha springt nicht an", at=T0 + timedelta(seconds=3))
    msg = repo.save_message(db, "kfz-huber", CallMessage(name="Peter Wagner", number="+49 711 2345678",
                                                         concern="Reparatur Yamaha", urgency="urgent",
                                                         language="de"), call.id)
    outbox = db.scalars(select(Outbox).where(Outbox.message_id == msg.id).order_by(Outbox.kind)).all()
    expected = " ".join([_phrase("de", "wanted", concern="Reparatur Yamaha"),
                         _phrase("de", "did_message", name="Peter Wagner"),
                         _phrase("de", "todo_callback_urgent", name="Peter Wagner", number="+497112345678")])
    assert [o.payload["summary"] for o in outbox] == [expected, expected]
    assert {o.payload["priority"] for o in outbox} == {"urgent"}
    body = email_message(Settings(smtp_from="bot@example.com"), outbox[0].payload).get_content()
    assert f"Zusammenfassung: {expected}" in body
    repo.finish_call(db, call.id, "abandoned", ended_at=T0 + timedelta(minutes=1))
    db.expire_all()
    c = db.get(Call, call.id)
    assert (c.outcome, c.priority, c.tags, c.summary) == ("message", "urgent", ["message"], expected)


def test_a_transferred_call_stays_transferred_when_the_pipeline_closes_afterwards(db) -> None:
    """The SIP carrier records the hand-over first; the caller's pipeline then closes and reports what it knew."""
    _company(db)
    call = repo.start_call(db, "kfz-huber", channel="sip", caller_number="+49 171 2345678", started_at=T0)
    repo.finish_call(db, call.id, "transferred", transferred_to="+49 89 1234568", ended_at=T0 + timedelta(seconds=9))
    repo.finish_call(db, call.id, "answered", ended_at=T0 + timedelta(seconds=10))
    db.expire_all()
    c = db.get(Call, call.id)
    assert (c.outcome, c.transferred_to) == ("transferred", "+49891234568")
    repo.finish_call(db, call.id, "message", ended_at=T0 + timedelta(seconds=11))  # a real new outcome still counts
    db.expire_all()
    assert db.get(Call, call.id).outcome == "message"
