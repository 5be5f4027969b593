"""The daily digest e-mail against real components: the store on SQLite and PostgreSQL (db_settings), the outbox
delivering to an aiosmtpd SMTP server, and the company setting through the real settings API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from bot.brain.types import CallMessage
from bot.runtime import digest
from bot.runtime import outbox as notify
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from bot.store.digests import claim_due_digests
from bot.store.models import Company, Outbox
from bot.web.app import create_app
from tests.support.web_helpers import make_world, login
from tests.web.test_web_notify import smtp  # noqa: F401  (the real SMTP server fixture)

# 2026-12-03 is a Thursday; Berlin is UTC+1 in December.
DAY = datetime(2026, 12, 3, tzinfo=timezone.utc)


@pytest.fixture
def mail_settings(db_settings: Settings, smtp) -> Settings:  # noqa: F811
    s = db_settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                                       "smtp_from": "bot@kfz.example", "public_url": "https://rezeption.example"})
    init_db(s)
    with session_scope(s) as db:
        repo.create_company(db, "kfz-huber", "Kfz Huber", email="werkstatt@kfz.example", digest_time="18:00",
                            phones=["+49 89 1234567"])
    return s


def _call(s: Settings, at: datetime, caller: str | None, lines: list[tuple[str, str, str | None]],
          outcome: str, message: CallMessage | None = None) -> int:
    with session_scope(s) as db:
        call = repo.start_call(db, "kfz-huber", channel="twilio", caller_number=caller, started_at=at)
        for i, (speaker, text, intent) in enumerate(lines):
            repo.add_turn(db, call.id, speaker, text, intent=intent, offset_ms=1000 * i,
                          entry_question="Öffnungszeiten Samstag" if intent == "faq" else None)
        if message:
            repo.save_message(db, "kfz-huber", message, call.id, now=at)
        repo.finish_call(db, call.id, outcome, ended_at=at + timedelta(minutes=1))
        return call.id


def test_the_digest_goes_out_once_a_day_at_the_local_time_with_every_call(mail_settings, smtp) -> None:  # noqa: F811
    s = mail_settings
    _call(s, DAY + timedelta(hours=8), "+491711111111",
          [("caller", "Haben Sie am Samstag offen?", None), ("bot", "Samstags 9 bis 12 Uhr.", "faq")], "answered")
    _call(s, DAY + timedelta(hours=9), "+491712222222", [("caller", "Meine Yamaha springt nicht an", None)],
          "message", CallMessage("Peter Wagner", "+497112345678", "Reparatur Yamaha", "urgent", "de"))
    _call(s, DAY + timedelta(hours=10), None, [("bot", "Guten Tag …", "greeting")], "abandoned")
    # 16:59 UTC = 17:59 in Berlin: not yet; 17:00 UTC = 18:00: due
    assert digest.enqueue_due(s, DAY + timedelta(hours=16, minutes=59)) == 0
    assert digest.enqueue_due(s, DAY + timedelta(hours=17)) == 1
    assert digest.enqueue_due(s, DAY + timedelta(hours=17, minutes=1)) == 0  # once a day
    with session_scope(s) as db:  # the message's own e-mail is delivered apart from the digest
        db.query(Outbox).filter(Outbox.message_id.is_not(None)).delete()
        db.commit()
    assert notify.run_once(s, now=DAY + timedelta(hours=17, minutes=1)).sent == 1
    mail = smtp.messages[-1]
    assert mail["To"] == "werkstatt@kfz.example"
    assert mail["Subject"] == "Tagesübersicht Kfz Huber: 3 Anrufe, 1 offene Rückrufe"
    lines = mail.get_content().splitlines()
    assert lines[0] == "Anrufe bei Kfz Huber vom 02.12.2026 18:00 bis 03.12.2026 18:00 (Europe/Berlin):"
    calls = [line for line in lines if line[:2].isdigit()]
    # most pressing first: the urgent message, then the answered question (low), then the silent call (spam)
    assert calls[0].startswith("03.12. 10:00  +491712222222  [DRINGEND]  Anliegen: Reparatur Yamaha.")
    assert "Zu tun: dringend zurückrufen – Peter Wagner, +497112345678." in calls[0]
    assert calls[1].startswith("03.12. 09:00  +491711111111  [niedrig]  Anliegen: Öffnungszeiten Samstag.")
    assert calls[2].startswith("03.12. 11:00  Nummer unterdrückt  [Spam]  Der Anrufer hat nichts gesagt.")
    assert lines[-1] == "Alle Anrufe: https://rezeption.example/calls"
    # the next day covers only what came after
    _call(s, DAY + timedelta(days=1, hours=8), "+491713333333", [("caller", "Hallo?", None)], "abandoned")
    assert digest.enqueue_due(s, DAY + timedelta(days=1, hours=17, minutes=5)) == 1
    notify.run_once(s, now=DAY + timedelta(days=1, hours=17, minutes=6))
    assert smtp.messages[-1]["Subject"] == "Tagesübersicht Kfz Huber: 1 Anrufe, 1 offene Rückrufe"
    assert "+491713333333" in smtp.messages[-1].get_content()


def test_no_digest_without_a_time_or_an_address_and_an_empty_day_says_so(mail_settings, smtp) -> None:  # noqa: F811
    s = mail_settings
    with session_scope(s) as db:
        repo.create_company(db, "no-mail", "Ohne Mail", digest_time="07:00")
        repo.create_company(db, "no-time", "Ohne Zeit", email="x@example.com")
        db.query(Company).filter(Company.slug == "kfz-huber").one().default_language = "en"
        db.commit()
    assert digest.enqueue_due(s, DAY + timedelta(hours=20)) == 1
    notify.run_once(s, now=DAY + timedelta(hours=20))
    mail = smtp.messages[-1]
    assert mail["Subject"] == "Daily digest Kfz Huber: 0 calls, 0 open callbacks"
    assert "No calls in this period." in mail.get_content()


def test_two_workers_claiming_at_once_send_one_digest(mail_settings) -> None:
    s = mail_settings
    now = DAY + timedelta(hours=17, minutes=30)
    with session_scope(s) as a, session_scope(s) as b:
        stale = b.query(Company).filter(Company.slug == "kfz-huber").one()
        assert stale.digest_sent_at is None  # b has read the company before a claims it
        assert len(claim_due_digests(a, now)) == 1
        assert claim_due_digests(b, now) == []  # the compare-and-set refuses b's stale view
        assert b.query(Outbox).filter(Outbox.message_id.is_(None)).count() == 1


def test_the_digest_time_is_a_company_setting_checked_in_plain_words(settings: Settings) -> None:
    world = make_world(settings)
    with TestClient(create_app(settings, background=False)) as client:
        token = login(client, world.users["admin"])
        r = client.patch("/api/v1/companies/alpha-gmbh", headers={"X-CSRF-Token": token},
                         json={"digest_time": "7:30"})
        assert r.status_code == 200 and r.json()["digest_time"] == "07:30"
        r = client.patch("/api/v1/companies/alpha-gmbh", headers={"X-CSRF-Token": token},
                         json={"digest_time": "25:00"})
        assert r.status_code == 422 and "HH:MM" in r.text
        form = client.get("/companies/alpha-gmbh").text
        assert 'name="digest_time" value="07:30"' in form and 'type="time"' in form
