"""The store on a real database: every test runs on SQLite and on a real PostgreSQL server (fixture db_settings)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from bot.brain.profile import CompanyProfile, OfficeInterval
from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import repo
from bot.store.db import current_revision, downgrade, get_engine, head_revision, init_db, session_scope, upgrade
from bot.store.models import Base, Call, CallTurn, Company, FaqGap, Message, Outbox, User
from bot.store.outbox import backoff, claim_due, mark_failed, mark_sent

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(db_settings: Settings):
    init_db(db_settings)
    with session_scope(db_settings) as session:
        yield session


def _company(session, slug="praxis-berger", **fields) -> Company:
    defaults = dict(name="Praxis Dr. Berger", phones=["+49 30 1234567"], secretary_number="030 7654321",
                    secretary_name="Frau Berger", bundesland="BY", office_hours="mon-fri 08:00-12:00,14:00-18:00")
    defaults.update(fields)
    return repo.create_company(session, slug, **defaults)


def _msg(number="+49 171 2345678", name="Erika Muster", urgency="normal") -> CallMessage:
    return CallMessage(name=name, number=number, concern="Rezept abholen", urgency=urgency, language="de")


# --- schema -----------------------------------------------------------------------------------------------------

def test_migrations_create_the_schema_from_empty_and_match_the_models(db_settings: Settings) -> None:
    engine = get_engine(db_settings)
    assert current_revision(engine) is None
    assert inspect(engine).get_table_names() == []
    init_db(db_settings)
    assert current_revision(engine) == head_revision() == "0011"
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) | {"alembic_version"} == tables
    init_db(db_settings)  # idempotent: nothing to do, nothing fails
    assert current_revision(engine) == head_revision()

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_migrations_downgrade_to_empty_and_up_again(db_settings: Settings) -> None:
    engine = init_db(db_settings)
    assert downgrade(engine, "base") is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert upgrade(engine) == head_revision()


def test_migration_0005_keeps_existing_messages_complete(db_settings: Settings) -> None:
    """A database at 0004 with a stored message: the upgrade adds messages.complete and the old row reads True."""
    engine = get_engine(db_settings)
    assert upgrade(engine, "0004") == "0004"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO companies (id, slug, name, default_language, languages, speaking_rate, timezone,"
                          " office_hours, retention_days, recording_enabled, english_only, created_at, updated_at)"
                          " VALUES (1, 'alt', 'Alt GmbH', 'de', '[\"de\"]', 1.0, 'Europe/Berlin', '', 30, false, false,"
                          " :t, :t)"), {"t": T0})
        conn.execute(text("INSERT INTO messages (id, company_id, caller_name, caller_number, concern, urgency, language,"
                          " status, created_at) VALUES (7, 1, 'Erika Muster', '+491712345678', 'Rezept', 'normal',"
                          " 'de', 'new', :t)"), {"t": T0})
    assert upgrade(engine) == head_revision()
    column = {c["name"]: c for c in inspect(engine).get_columns("messages")}["complete"]
    assert column["nullable"] is False
    with session_scope(db_settings) as session:
        old = session.get(Message, 7)
        assert (old.caller_name, old.complete) == ("Erika Muster", True)
        assert session.scalar(select(func.count(Message.id)).where(Message.complete.is_(False))) == 0
    assert (old.called_back_at, old.called_back_by) == (None, None)  # 0006: nobody has called back yet
    assert downgrade(engine, "0004") == "0004"
    assert "complete" not in {c["name"] for c in inspect(engine).get_columns("messages")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT caller_name FROM messages WHERE id = 7")).scalar() == "Erika Muster"


def test_upgrading_keeps_every_row_that_points_at_a_copied_table(db_settings: Settings) -> None:
    """SQLite ALTERs by copying tables; with foreign keys on, dropping the old ``companies`` would cascade-delete
    the messages, calls and pending notifications that point at it. The upgrade must keep all of them."""
    engine = get_engine(db_settings)
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO companies (id, slug, name, default_language, languages, speaking_rate, timezone,"
                          " office_hours, retention_days, recording_enabled, english_only, created_at, updated_at)"
                          " VALUES (1, 'alt', 'Alt GmbH', 'de', '[\"de\"]', 1.0, 'Europe/Berlin', '', 30, false, false,"
                          " :t, :t)"), {"t": T0})
        conn.execute(text("INSERT INTO calls (id, company_id, channel, started_at) VALUES (3, 1, 'twilio', :t)"),
                     {"t": T0})
        conn.execute(text("INSERT INTO messages (id, company_id, call_id, caller_name, caller_number, concern, urgency,"
                          " language, status, created_at) VALUES (7, 1, 3, 'Erika Muster', '+491712345678', 'Rezept',"
                          " 'normal', 'de', 'new', :t)"), {"t": T0})
        conn.execute(text("INSERT INTO outbox (id, kind, company_id, message_id, payload, status, attempts,"
                          " next_attempt_at, created_at) VALUES (9, 'email', 1, 7, '{}', 'pending', 0, :t, :t)"), {"t": T0})
    assert upgrade(engine) == head_revision()
    with engine.connect() as conn:
        counts = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in ("calls", "messages", "outbox")]
        assert counts == [1, 1, 1]
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # switched on again afterwards


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db_settings: Settings, db) -> None:
    if db.bind.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    assert db.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert db.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_foreign_keys_are_enforced(db) -> None:
    db.add(CallTurn(call_id=9999, seq=0, speaker="bot", text="x", offset_ms=0, latency={}))
    with pytest.raises(Exception):
        db.commit()
    db.rollback()


def test_timestamps_come_back_timezone_aware_utc_and_naive_ones_are_refused(db) -> None:
    c = _company(db)
    berlin = timezone(timedelta(hours=1))
    call = repo.start_call(db, c, channel="cli", started_at=datetime(2026, 12, 24, 20, 15, tzinfo=berlin))
    db.expire_all()
    got = db.get(Call, call.id).started_at
    assert got == datetime(2026, 12, 24, 19, 15, tzinfo=timezone.utc) and got.utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="naive datetime"):
        repo.start_call(db, c, channel="cli", started_at=datetime(2026, 12, 24, 20, 15))
    db.rollback()


# --- companies ----------------------------------------------------------------------------------------------------

def test_company_defaults_and_profile_conversion(db) -> None:
    c = _company(db, greeting_de="Praxis Berger, KI-Assistentin, guten Tag.", phones=["030 1234567", "+4989 123456"])
    db.expire_all()
    c = repo.get_company(db, "praxis-berger")
    assert (c.retention_days, c.recording_enabled, c.english_only, c.timezone) == (30, False, False, "Europe/Berlin")
    assert c.phone_numbers == ["+49301234567", "+4989123456"]
    p = repo.company_profile(c)
    assert isinstance(p, CompanyProfile)
    assert p.slug == "praxis-berger" and p.name == "Praxis Dr. Berger"
    assert p.greeting == {"de": "Praxis Berger, KI-Assistentin, guten Tag."}
    assert p.languages == ("de", "en") and p.default_language == "de"
    assert p.bundesland == "BY" and p.secretary_number == "+49307654321" and p.secretary_name == "Frau Berger"
    assert len(p.office_hours) == 10
    assert p.office_hours[0] == OfficeInterval(0, time(8), time(12))
    assert p.office_hours[-1] == OfficeInterval(4, time(14), time(18))
    assert set(p.phone_numbers) == {"+49301234567", "+4989123456"}


def test_company_for_number_accepts_any_written_form(db) -> None:
    _company(db)
    _company(db, "werkstatt", name="Werkstatt Koch", phones=["+49 40 555123"])
    assert repo.company_for_number(db, "+49301234567").slug == "praxis-berger"
    assert repo.company_for_number(db, "030 / 123 45 67").slug == "praxis-berger"
    assert repo.company_for_number(db, "+49 (40) 555-123").slug == "werkstatt"
    assert repo.company_for_number(db, "+49 30 999999") is None
    assert repo.company_for_number(db, "anonymous") is None


def test_a_number_reaches_only_one_company(db) -> None:
    _company(db)
    with pytest.raises(repo.InvalidInput, match="already reaches company 'praxis-berger'"):
        _company(db, "other", name="Other", phones=["030 1234567"])
    db.rollback()
    assert repo.get_company(db, "other") is None


@pytest.mark.parametrize("fields,reason", [
    ({"timezone": "Europe/Atlantis"}, "unknown time zone"),
    ({"bundesland": "XX"}, "unknown Bundesland 'XX'; use one of BB, BE, BW, BY"),
    ({"office_hours": "mon-fri 18:00-08:00"}, "ends before it starts"),
    ({"secretary_number": "12345"}, "not a valid phone number"),
    ({"default_language": "fr"}, "unsupported language 'fr'"),
    ({"languages": ["de"], "default_language": "en"}, "default language 'en' is not among"),
    ({"email": "nobody"}, "not an e-mail address"),
    ({"webhook_url": "ftp://x"}, "must start with https://"),
    ({"retention_days": -1}, "out of range"),
    ({"english_only": True, "languages": ["de", "en"]}, "English only"),
    ({"colour": "red"}, "unknown company setting"),
])
def test_bad_settings_are_refused_and_nothing_changes(db, fields: dict, reason: str) -> None:
    _company(db)
    with pytest.raises(repo.InvalidInput, match=reason):
        repo.update_company(db, "praxis-berger", name="Changed", add_phones=["+49 30 2222222"], **fields)
    db.rollback()
    db.expire_all()
    c = repo.get_company(db, "praxis-berger")
    assert c.name == "Praxis Dr. Berger" and c.phone_numbers == ["+49301234567"]


def test_update_company_changes_only_what_is_given(db) -> None:
    _company(db)
    repo.update_company(db, "praxis-berger", office_hours="sat 09:00-12:00", bundesland="", add_phones=["040 555666"],
                        remove_phones=["+49301234567"], retention_days=7)
    db.expire_all()
    c = repo.get_company(db, "praxis-berger")
    assert c.office_hours == "sat 09:00-12:00" and c.bundesland is None and c.retention_days == 7
    assert c.phone_numbers == ["+4940555666"] and c.secretary_name == "Frau Berger"
    with pytest.raises(repo.InvalidInput, match="does not reach"):
        repo.update_company(db, "praxis-berger", remove_phones=["+49301234567"])
    db.rollback()
    with pytest.raises(repo.NotFound, match="no company 'nope'"):
        repo.update_company(db, "nope", name="x")


def test_english_only_implies_english(db) -> None:
    c = _company(db, english_only=True)
    assert c.languages == ["en"] and c.default_language == "en"
    assert repo.company_profile(c).english_only is True


def test_ensure_company_creates_defaults_once(db) -> None:
    a = repo.ensure_company(db, "neue-firma")
    assert a.name == "Neue Firma" and a.office_hours == "mon-fri 09:00-17:00" and a.languages == ["de", "en"]
    repo.update_company(db, "neue-firma", name="Neue Firma GmbH")
    b = repo.ensure_company(db, "neue-firma", name="ignored")
    assert b.id == a.id and b.name == "Neue Firma GmbH"
    assert db.scalar(select(func.count(Company.id))) == 1
    with pytest.raises(repo.InvalidInput, match="company id"):
        repo.ensure_company(db, "Bad Slug!")


# --- calls ----------------------------------------------------------------------------------------------------------

def test_call_record_with_turns_latency_and_outcome(db) -> None:
    _company(db)
    call = repo.start_call(db, "praxis-berger", channel="twilio", call_sid="CA123", caller_number="0171 2345678",
                           started_at=T0)
    assert call.caller_number == "+491712345678" and call.outcome is None
    t0 = repo.add_turn(db, call.id, "bot", "Praxis Dr. Berger, guten Tag …", language="de", intent="greeting",
                       offset_ms=0, latency={"tts_ms": 12.5})
    t1 = repo.add_turn(db, call.id, "caller", "Wann haben Sie offen?", language="de",
                       at=T0 + timedelta(seconds=4.25))
    t2 = repo.add_turn(db, call.id, "bot", "Montag bis Freitag …", language="de", intent="faq", entry_id="d1:3",
                       entry_question="Öffnungszeiten?", at=T0 + timedelta(seconds=5),
                       latency={"stt_ms": 80, "brain_ms": 15})
    repo.update_turn_latency(db, t2.id, tts_ms=40, voice_to_voice_ms=310.25)
    assert (t0.seq, t1.seq, t2.seq) == (0, 1, 2)
    assert t1.offset_ms == 4250 and t2.offset_ms == 5000
    with pytest.raises(ValueError, match="non-negative"):
        repo.add_turn(db, call.id, "bot", "x", latency={"tts_ms": -1})
    with pytest.raises(ValueError, match="unknown speaker"):
        repo.add_turn(db, call.id, "robot", "x")
    repo.finish_call(db, call.id, "answered", ended_at=T0 + timedelta(seconds=30), summary="Öffnungszeiten")
    db.expire_all()
    c = repo.get_call(db, call.id)
    assert c.outcome == "answered" and c.duration_s == 30.0 and c.language == "de" and c.summary == "Öffnungszeiten"
    assert [t.speaker for t in c.turns] == ["bot", "caller", "bot"]
    assert c.turns[2].latency == {"stt_ms": 80.0, "brain_ms": 15.0, "tts_ms": 40.0, "voice_to_voice_ms": 310.2}
    assert c.turns[2].entry_question == "Öffnungszeiten?"
    assert repo.call_by_sid(db, "CA123").id == call.id
    with pytest.raises(ValueError, match="unknown outcome"):
        repo.finish_call(db, call.id, "lost")


def test_withheld_caller_id_is_stored_as_none(db) -> None:
    _company(db)
    assert repo.start_call(db, "praxis-berger", channel="twilio", caller_number="anonymous").caller_number is None
    assert repo.start_call(db, "praxis-berger", channel="browser").caller_number is None
    with pytest.raises(ValueError, match="unknown channel"):
        repo.start_call(db, "praxis-berger", channel="fax")


def test_list_calls_filters(db) -> None:
    a = _company(db)
    b = _company(db, "werkstatt", name="Werkstatt", phones=["+49 40 555123"])
    specs = [(a, T0, "answered", "de"), (a, T0 + timedelta(days=1), "message", "en"),
             (b, T0 + timedelta(days=2), "transferred", "de"), (a, T0 + timedelta(days=3), None, "de")]
    ids = []
    for company, at, outcome, lang in specs:
        call = repo.start_call(db, company, channel="cli", started_at=at, language=lang)
        if outcome:
            repo.finish_call(db, call.id, outcome, ended_at=at + timedelta(minutes=1))
        ids.append(call.id)
    assert [c.id for c in repo.list_calls(db)] == ids[::-1]
    assert [c.id for c in repo.list_calls(db, company="praxis-berger")] == [ids[3], ids[1], ids[0]]
    assert [c.id for c in repo.list_calls(db, company_ids=[b.id])] == [ids[2]]
    assert [c.id for c in repo.list_calls(db, outcome="message")] == [ids[1]]
    assert [c.id for c in repo.list_calls(db, outcome="in_progress")] == [ids[3]]
    assert [c.id for c in repo.list_calls(db, language="en")] == [ids[1]]
    assert [c.id for c in repo.list_calls(db, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))] == \
        [ids[2], ids[1]]
    assert [c.id for c in repo.list_calls(db, limit=2, offset=1)] == [ids[2], ids[1]]
    assert repo.count_calls(db) == 4 and repo.count_calls(db, company="praxis-berger", language="de") == 2
    assert repo.count_calls(db, channel="twilio") == 0


def test_faq_gaps_are_recorded_grouped_and_resolved(db) -> None:
    _company(db)
    call = repo.start_call(db, "praxis-berger", channel="cli")
    g1 = repo.record_faq_gap(db, "praxis-berger", "Haben Sie einen Parkplatz?", "de", call.id)
    repo.record_faq_gap(db, "praxis-berger", "haben sie einen parkplatz", "de")
    repo.record_faq_gap(db, "praxis-berger", "Do you take cash?", "en")
    assert repo.record_faq_gap(db, "praxis-berger", "   ") is None
    groups = repo.faq_gap_groups(db, "praxis-berger")
    assert [(g.count, g.languages) for g in groups] == [(2, ("de",)), (1, ("en",))]
    assert g1.id in groups[0].gap_ids
    assert repo.resolve_faq_gaps(db, groups[0].gap_ids) == 2
    assert [g.question for g in repo.faq_gap_groups(db, "praxis-berger")] == ["Do you take cash?"]


# --- messages and outbox -------------------------------------------------------------------------------------------

def test_save_message_commits_message_and_notifications_together(db, db_settings: Settings) -> None:
    _company(db, email="praxis@example.com", webhook_url="https://hooks.example.com/in", webhook_secret="s3cret")
    call = repo.start_call(db, "praxis-berger", channel="twilio", caller_number="+491712345678")
    m = repo.save_message(db, "praxis-berger", _msg(number="0171 2345678", urgency="urgent"), call.id)
    # visible from a different connection right away: it is committed
    with session_scope(db_settings) as other:
        row = other.get(Message, m.id)
        assert (row.caller_name, row.caller_number, row.urgency, row.status) == \
            ("Erika Muster", "+491712345678", "urgent", "new")
        outbox = other.scalars(select(Outbox).order_by(Outbox.kind)).all()
        assert [(o.kind, o.status, o.message_id) for o in outbox] == [("email", "pending", m.id),
                                                                       ("webhook", "pending", m.id)]
        assert outbox[0].payload["to"] == "praxis@example.com"
        assert outbox[1].payload["url"] == "https://hooks.example.com/in"
        assert outbox[1].payload["concern"] == "Rezept abholen" and outbox[1].payload["company"]["slug"] == \
            "praxis-berger"
        assert other.get(Call, call.id).outcome == "message"
    # a caller who hangs up afterwards does not turn the call into "abandoned"
    assert repo.finish_call(db, call.id, "abandoned").outcome == "message"


def test_partial_message_is_stored_incomplete_and_its_notifications_say_partial(db, db_settings: Settings) -> None:
    _company(db, email="praxis@example.com", webhook_url="https://hooks.example.com/in")
    partial = CallMessage(name="Erika Muster", number="+491712345678", concern="", urgency="normal", language="de",
                          complete=False)
    p = repo.save_message(db, "praxis-berger", partial)
    c = repo.save_message(db, "praxis-berger", _msg())
    with session_scope(db_settings) as other:
        assert (other.get(Message, p.id).complete, other.get(Message, c.id).complete) == (False, True)
        payloads = {(o.message_id, o.kind): o.payload for o in other.scalars(select(Outbox))}
    assert payloads[(p.id, "email")]["partial"] is True and payloads[(p.id, "webhook")]["partial"] is True
    assert payloads[(c.id, "email")]["partial"] is False and payloads[(c.id, "webhook")]["partial"] is False
    assert payloads[(p.id, "webhook")]["caller_name"] == "Erika Muster" and payloads[(p.id, "webhook")]["concern"] == ""


def test_save_message_without_targets_writes_no_notifications(db) -> None:
    _company(db)
    repo.save_message(db, "praxis-berger", _msg())
    assert db.scalar(select(func.count(Outbox.id))) == 0
    assert db.scalar(select(func.count(Message.id))) == 1


def test_message_and_outbox_are_one_transaction(db, monkeypatch: pytest.MonkeyPatch) -> None:
    _company(db, email="praxis@example.com")

    def broken(*_a, **_k):
        raise RuntimeError("payload failed")

    monkeypatch.setattr("bot.store.messages.message_payload", broken)
    with pytest.raises(RuntimeError):
        repo.save_message(db, "praxis-berger", _msg())
    db.rollback()
    assert db.scalar(select(func.count(Message.id))) == 0  # no message without its notification


def test_save_message_refuses_bad_values_and_keeps_unknown_call_ids_harmless(db) -> None:
    _company(db)
    with pytest.raises(ValueError, match="unknown urgency"):
        repo.save_message(db, "praxis-berger", _msg(urgency="asap"))
    with pytest.raises(repo.NotFound):
        repo.save_message(db, "nope", _msg())
    m = repo.save_message(db, "praxis-berger", _msg(), call_id=424242)
    assert m.call_id is None and m.id is not None


def test_inbox_listing_feed_and_done(db) -> None:
    _company(db)
    admin = repo.create_user(db, "Chef@Example.com", "correct horse", "admin")
    ids = [repo.save_message(db, "praxis-berger", _msg(name=f"Anrufer {i}")).id for i in range(3)]
    assert [m.id for m in repo.list_messages(db, company="praxis-berger")] == ids[::-1]
    assert [m.id for m in repo.list_messages(db, after_id=ids[0])] == ids[1:]
    done = repo.mark_message_done(db, ids[1], user_id=admin.id)
    assert done.status == "done" and done.done_by == admin.id and done.done_at is not None
    assert [m.id for m in repo.list_messages(db, status="new")] == [ids[2], ids[0]]
    assert repo.mark_message_done(db, ids[1], done=False).status == "new"


def test_callback_list_called_back_marks_done_queues_the_webhook_and_can_be_taken_back(db) -> None:
    _company(db, email="praxis@example.com", webhook_url="https://hooks.example.com/in")
    sek = repo.create_user(db, "sek@example.com", "correct horse", "secretary", name="Frau Kaya")
    keyless = repo.create_user(db, "chef@example.com", "correct horse", "admin")
    a, b = (repo.save_message(db, "praxis-berger", _msg(name=n)).id for n in ("Anna", "Bernd"))
    nobody = repo.save_message(db, "praxis-berger", CallMessage("Ohne Nummer", "", "", "normal", "de",
                                                                complete=False)).id
    assert [m.id for m in repo.list_messages(db, open_callbacks=True)] == [b, a]  # no number: nothing to call
    at = T0 + timedelta(hours=2)
    m = repo.mark_called_back(db, a, sek, now=at)
    assert (m.called_back_at, m.called_back_by, m.status, m.done_at, m.done_by) == (at, "Frau Kaya", "done", at, sek.id)
    assert [m.id for m in repo.list_messages(db, open_callbacks=True)] == [b]
    hooks = db.scalars(select(Outbox).where(Outbox.message_id == a, Outbox.kind == "webhook").order_by(Outbox.id)).all()
    assert [h.payload["event"] for h in hooks] == ["message.created", "message.called_back"]
    assert hooks[1].payload["called_back_by"] == "Frau Kaya" and hooks[1].payload["url"] == "https://hooks.example.com/in"
    assert datetime.fromisoformat(hooks[1].payload["called_back_at"]) == at and hooks[1].next_attempt_at == at
    assert db.scalar(select(func.count(Outbox.id)).where(Outbox.message_id == a, Outbox.kind == "email")) == 1
    # marking again keeps the first callback and queues nothing more
    assert repo.mark_called_back(db, a, keyless, now=at + timedelta(hours=1)).called_back_by == "Frau Kaya"
    assert db.scalar(select(func.count(Outbox.id)).where(Outbox.message_id == a)) == 3
    # a user without a name is recorded by e-mail; taking it back opens the message again
    assert repo.mark_called_back(db, b, keyless, now=at).called_back_by == "chef@example.com"
    back = repo.mark_called_back(db, b, keyless, called_back=False)
    assert (back.called_back_at, back.called_back_by, back.status, back.done_by) == (None, None, "new", None)
    assert [m.id for m in repo.list_messages(db, open_callbacks=True)] == [b]
    assert repo.get_message(db, nobody).called_back_at is None
    with pytest.raises(repo.NotFound):
        repo.mark_called_back(db, 424242, sek)


def test_outbox_claim_retry_with_backoff_and_sent(db) -> None:
    _company(db, email="praxis@example.com")
    m = repo.save_message(db, "praxis-berger", _msg(), now=T0)
    items = claim_due(db, now=T0)
    assert [i.message_id for i in items] == [m.id]
    assert claim_due(db, now=T0 + timedelta(seconds=1)) == []  # leased to the first worker
    failed = mark_failed(db, items[0].id, "connection refused", now=T0)
    assert failed.attempts == 1 and failed.status == "pending" and failed.next_attempt_at == T0 + backoff(1)
    assert claim_due(db, now=T0 + backoff(1) - timedelta(seconds=1)) == []
    again = claim_due(db, now=T0 + backoff(1))
    assert [i.id for i in again] == [failed.id]
    sent = mark_sent(db, failed.id, now=T0 + timedelta(minutes=5))
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    assert claim_due(db, now=T0 + timedelta(days=1)) == []
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 10, 50)] == [30, 60, 120, 3600, 3600]


# --- DSGVO ----------------------------------------------------------------------------------------------------------

def _caller_history(db, tmp_path: Path, number: str, at: datetime, tag: str) -> tuple[int, Path]:
    call = repo.start_call(db, "praxis-berger", channel="twilio", caller_number=number, started_at=at)
    repo.add_turn(db, call.id, "caller", f"Ich bin {tag}", offset_ms=100)
    recording = tmp_path / f"{tag}.wav"
    recording.write_bytes(b"RIFF")
    db.get(Call, call.id).recording_path = str(recording)
    db.commit()
    repo.record_faq_gap(db, "praxis-berger", f"Frage von {tag}", "de", call.id, now=at)
    repo.save_message(db, "praxis-berger", _msg(number=number, name=tag), call.id, now=at)
    return call.id, recording


def test_delete_caller_data_erases_one_caller_completely(db, tmp_path: Path) -> None:
    _company(db, email="praxis@example.com")
    call_a, rec_a = _caller_history(db, tmp_path, "+491712345678", T0, "Anna")
    call_b, rec_b = _caller_history(db, tmp_path, "+491719999999", T0, "Bert")
    # a message that gives A's number as callback from an unknown caller id
    repo.save_message(db, "praxis-berger", _msg(number="+491712345678", name="Anna again"))

    report = repo.delete_caller_data(db, "0171 / 234 56 78")
    assert (report.calls, report.turns, report.messages, report.faq_gaps, report.recordings) == (1, 1, 2, 1, 1)
    assert report.notifications == 2 and report.errors == []
    assert not rec_a.exists() and rec_b.exists()
    assert db.get(Call, call_a) is None and db.get(Call, call_b) is not None
    names = db.scalars(select(Message.caller_name)).all()
    assert names == ["Bert"]
    assert db.scalars(select(FaqGap.question)).all() == ["Frage von Bert"]
    assert db.scalar(select(func.count(Outbox.id))) == 1
    assert db.scalar(select(func.count(CallTurn.id)).where(CallTurn.call_id == call_a)) == 0
    with pytest.raises(repo.InvalidInput):
        repo.delete_caller_data(db, "not a number")


def test_retention_purge_respects_each_companys_retention(db, tmp_path: Path) -> None:
    _company(db, retention_days=30, email="praxis@example.com")
    _company(db, "werkstatt", name="Werkstatt", phones=["+49 40 555123"], retention_days=7)
    now = T0 + timedelta(days=60)
    old_call, old_rec = _caller_history(db, tmp_path, "+491712345678", now - timedelta(days=31), "Alt")
    new_call, new_rec = _caller_history(db, tmp_path, "+491719999999", now - timedelta(days=29), "Neu")
    ws_call = repo.start_call(db, "werkstatt", channel="cli", caller_number="+491715555555",
                              started_at=now - timedelta(days=8))
    repo.add_turn(db, ws_call.id, "caller", "Bremsen")
    repo.finish_call(db, ws_call.id, "answered", ended_at=now - timedelta(days=8) + timedelta(minutes=2))
    repo.save_message(db, "werkstatt", _msg(name="Werkstattkunde"), now=now - timedelta(days=6))

    report = repo.purge_expired(db, now=now)
    assert (report.calls_anonymised, report.turns, report.messages, report.faq_gaps, report.recordings) == \
        (2, 2, 1, 1, 1)
    assert not old_rec.exists() and new_rec.exists()
    old = db.get(Call, old_call)
    assert old is not None and old.caller_number is None and old.turns == [] and old.purged_at == now
    assert old.outcome == "message"  # statistics stay
    ws = db.get(Call, ws_call.id)
    assert ws.caller_number is None and ws.duration_s == 120.0
    assert db.get(Call, new_call).caller_number == "+491719999999" and len(db.get(Call, new_call).turns) == 1
    assert sorted(db.scalars(select(Message.caller_name))) == ["Neu", "Werkstattkunde"]
    assert db.scalar(select(func.count(Outbox.id))) == 1  # only the kept message's e-mail
    again = repo.purge_expired(db, now=now)
    assert (again.calls_anonymised, again.messages, again.turns) == (0, 0, 0)


# --- users -----------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_users_login_roles_and_api_keys(db) -> None:
    a = _company(db)
    b = _company(db, "werkstatt", name="Werkstatt", phones=["+49 40 555123"])
    admin = repo.create_user(db, "admin@example.com", "correct horse", "admin")
    sec = repo.create_user(db, "sek@example.com", "battery staple", "secretary", companies=["praxis-berger",
                                                                                           "werkstatt"])
    cu = repo.create_user(db, "chef@praxis.example", "praxis pass", "company_user", companies=[a])
    assert admin.password_hash.startswith("$argon2id$") and "correct horse" not in admin.password_hash
    assert repo.authenticate(db, "ADMIN@example.com", "correct horse").id == admin.id
    assert repo.authenticate(db, "admin@example.com", "wrong password") is None
    assert repo.authenticate(db, "ghost@example.com", "correct horse") is None
    assert repo.visible_company_ids(admin) is None
    assert sorted(repo.visible_company_ids(sec)) == sorted([a.id, b.id])
    assert repo.visible_company_ids(cu) == [a.id]
    assert repo.can_access(cu, a) and not repo.can_access(cu, b)
    with pytest.raises(repo.InvalidInput, match="exists already"):
        repo.create_user(db, "Admin@Example.com", "another pass", "admin")
    db.rollback()
    with pytest.raises(repo.InvalidInput, match="unknown role"):
        repo.create_user(db, "x@example.com", "long enough", "root")
    with pytest.raises(repo.InvalidInput, match="too short"):
        repo.create_user(db, "y@example.com", "short", "admin")
    db.rollback()
    key_row, key = repo.create_api_key(db, cu, "CRM")
    assert key not in key_row.key_hash and key.startswith(key_row.prefix)
    assert repo.user_for_api_key(db, key).id == cu.id
    assert repo.user_for_api_key(db, key + "x") is None
    repo.revoke_api_key(db, key_row.id)
    assert repo.user_for_api_key(db, key) is None
    cu.active = False
    db.commit()
    assert repo.authenticate(db, "chef@praxis.example", "praxis pass") is None
    assert db.scalar(select(func.count(User.id))) == 3


# --- consent (issue 16) --------------------------------------------------------------------------------------------

def test_an_objection_deletes_the_audio_at_once_and_the_transcript_when_the_call_closes(db, tmp_path: Path) -> None:
    _company(db, recording_enabled=True)
    call_id, recording = _caller_history(db, tmp_path, "+491712345678", T0, "Anna")
    repo.add_turn(db, call_id, "bot", "In Ordnung, ich zeichne nicht auf.", intent="object_recording")
    repo.mark_recording_objected(db, call_id)
    call = db.get(Call, call_id)
    assert call.recording_objected and call.recording_path is None and not recording.exists()
    assert len(call.turns) == 2  # kept while the call runs: the summary is written from it
    late = tmp_path / "late.wav"
    late.write_bytes(b"RIFF")
    assert repo.set_recording(db, call_id, str(late)) is False and not late.exists()  # audio arriving afterwards
    repo.finish_call(db, call_id, "answered", ended_at=T0 + timedelta(minutes=2))
    db.expire_all()
    call = db.get(Call, call_id)
    assert call.turns == [] and call.outcome == "message" and call.summary and "Anna" in call.summary
    assert db.scalar(select(func.count(FaqGap.id)).where(FaqGap.call_id == call_id)) == 0
    assert [m.caller_name for m in db.scalars(select(Message))] == ["Anna"]  # the secretary still gets it


def test_retention_zero_keeps_no_transcript_after_the_call_but_the_message_for_the_default_period(db) -> None:
    _company(db, retention_days=0)
    now = T0 + timedelta(days=2)
    ended = repo.start_call(db, "praxis-berger", channel="twilio", caller_number="+491712345678",
                            started_at=now - timedelta(hours=1))
    repo.add_turn(db, ended.id, "caller", "Wann haben Sie geöffnet?")
    repo.finish_call(db, ended.id, "answered", ended_at=now - timedelta(minutes=55))
    assert db.get(Call, ended.id).turns == [] and db.get(Call, ended.id).summary
    running = repo.start_call(db, "praxis-berger", channel="twilio", caller_number="+491719999999",
                              started_at=now - timedelta(minutes=1))
    repo.add_turn(db, running.id, "caller", "Hallo?")
    repo.save_message(db, "praxis-berger", _msg(name="Erika"), now=now - timedelta(days=1))

    report = repo.purge_expired(db, now=now)
    assert report.calls_anonymised == 1 and report.messages == 0
    assert db.get(Call, ended.id).caller_number is None
    live = db.get(Call, running.id)
    assert live.caller_number == "+491719999999" and live.purged_at is None
    assert len(live.turns) == 1  # a call in progress is left alone
    assert repo.purge_expired(db, now=now + timedelta(days=31)).messages == 1  # 30 days for the message


def test_retention_below_zero_is_refused_and_zero_is_allowed(db) -> None:
    with pytest.raises(repo.InvalidInput, match="retention"):
        _company(db, retention_days=-1)
    db.rollback()
    assert _company(db, retention_days=0).retention_days == 0


def test_migration_0011_allows_retention_zero_and_its_downgrade_keeps_the_company(db_settings: Settings) -> None:
    engine = init_db(db_settings)
    with session_scope(db_settings) as session:
        _company(session, retention_days=0, recording_enabled=True, recording_notice_de="Wir zeichnen auf.")
    assert downgrade(engine, "0010") == "0010"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT retention_days FROM companies")).scalar() == 1
    assert "recording_objected" not in {c["name"] for c in inspect(engine).get_columns("calls")}
    assert upgrade(engine) == head_revision()
    with session_scope(db_settings) as session:
        assert repo.get_company(session, "praxis-berger").recording_notice_de is None
