"""Notifications and live updates against real servers: an aiosmtpd SMTP server, an HTTP webhook receiver that is
down and comes up, the outbox worker in the app's lifespan, the CLI, the SSE inbox stream; and no personal data in
the logs of the whole flow."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from bot.store.models import Outbox, utcnow
from bot.runtime import outbox as notify
from bot.web.app import create_app
from bot.web.logfilter import PiiFilter, mask
from tests.conftest import free_port
from tests.support.web_helpers import PASSWORD, LiveServer, csrf_from

REPO = Path(__file__).resolve().parents[2]
SECRET = "whsec_test-secret"
MESSAGE = CallMessage(name="Erika Mustermann", number="+491701234567", concern="Zahnschmerzen seit gestern Abend",
                      urgency="urgent", language="de")


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


class Receiver:
    """A webhook receiver on a fixed port that can be down (nothing listening) and come up later."""

    def __init__(self, port: int) -> None:
        self.port, self.received, self.server = port, [], None

    def up(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def down(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(free_port())
    yield r
    r.down()


@pytest.fixture
def notify_settings(settings: Settings, smtp, receiver) -> Settings:
    s = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "webhook_allow_private": True,
                                    "smtp_from": "sekretariat@alpha.example", "public_url": "https://rezeption.example"})
    init_db(s)
    with session_scope(s) as db:
        repo.create_company(db, "alpha-gmbh", "Alpha GmbH", email="praxis@alpha.example",
                            webhook_url=f"http://127.0.0.1:{receiver.port}/hook", webhook_secret=SECRET)
    return s


def _save(settings: Settings, message: CallMessage = MESSAGE) -> int:
    with session_scope(settings) as db:
        return repo.save_message(db, "alpha-gmbh", message).id


def test_email_delivered_to_a_real_smtp_server(notify_settings, smtp) -> None:
    mid = _save(notify_settings)
    with session_scope(notify_settings) as db:
        db.query(Outbox).filter(Outbox.kind == "webhook").delete()
        db.commit()
    assert notify.run_once(notify_settings).sent == 1
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert smtp.envelopes[0].rcpt_tos == ["praxis@alpha.example"]
    assert mail["From"] == "sekretariat@alpha.example" and mail["To"] == "praxis@alpha.example"
    assert mail["Subject"] == "DRINGEND: Rückrufbitte von Erika Mustermann – Alpha GmbH"
    assert mail["Importance"] == "high" and mail["Message-ID"]
    body = mail.get_content()
    assert "Rückrufnummer: +491701234567" in body and "Anliegen: Zahnschmerzen seit gestern Abend" in body
    assert "Dringlichkeit: dringend" in body and f"https://rezeption.example/inbox#message-{mid}" in body
    assert notify.run_once(notify_settings).sent == 0  # exactly once


def test_english_message_gets_an_english_mail(notify_settings, smtp) -> None:
    _save(notify_settings, CallMessage("John Smith", "+447700900123", "Quote for a new roof", "normal", "en"))
    notify.run_once(notify_settings)
    mail = smtp.messages[0]
    assert mail["Subject"] == "Call back John Smith – Alpha GmbH" and mail["Importance"] is None
    assert "Callback number: +447700900123" in mail.get_content()


PARTIAL = CallMessage(name="Erika Mustermann", number="+491701234567", concern="", urgency="normal", language="de",
                      complete=False)


def test_partial_message_is_marked_in_mail_subject_body_and_webhook(notify_settings, smtp, receiver) -> None:
    receiver.up()
    mid = _save(notify_settings, PARTIAL)
    assert notify.run_once(notify_settings).sent == 2
    mail = smtp.messages[0]
    assert mail["Subject"] == "UNVOLLSTÄNDIG: Rückrufbitte von Erika Mustermann – Alpha GmbH"
    body = mail.get_content()
    assert body.splitlines()[0] == "Unvollständig: Der Anrufer hat aufgelegt, bevor die Nachricht fertig war."
    assert "Rückrufnummer: +491701234567" in body
    data = json.loads(receiver.received[0][1])
    assert data["message_id"] == mid and data["partial"] is True and data["event"] == "message.created"


def test_complete_message_says_partial_false_and_english_partial_mail_is_marked(notify_settings, smtp,
                                                                                 receiver) -> None:
    receiver.up()
    _save(notify_settings)
    notify.run_once(notify_settings)
    assert json.loads(receiver.received[0][1])["partial"] is False
    assert "UNVOLLSTÄNDIG" not in smtp.messages[0]["Subject"] and "Unvollständig" not in smtp.messages[0].get_content()
    _save(notify_settings, CallMessage("John Smith", "+447700900123", "", "urgent", "en", complete=False))
    notify.run_once(notify_settings)
    mail = smtp.messages[1]
    assert mail["Subject"] == "URGENT: PARTIAL: Call back John Smith – Alpha GmbH"
    assert mail.get_content().splitlines()[0] == "Partial: the caller hung up before the message was complete."


def test_called_back_sends_a_signed_message_called_back_webhook_and_no_second_mail(notify_settings, smtp,
                                                                                  receiver) -> None:
    receiver.up()
    mid = _save(notify_settings)
    assert notify.run_once(notify_settings).sent == 2  # message.created: mail and webhook
    with session_scope(notify_settings) as db:
        user = repo.create_user(db, "sek@alpha.example", PASSWORD, "secretary", name="Frau Kaya",
                                companies=["alpha-gmbh"])
        repo.mark_called_back(db, mid, user)
    assert notify.run_once(notify_settings).sent == 1
    assert len(smtp.messages) == 1 and len(receiver.received) == 2
    headers, body = receiver.received[1]
    assert headers["X-Receptionist-Event"] == "message.called_back"
    assert headers["X-Receptionist-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    data = json.loads(body)
    assert (data["event"], data["message_id"], data["called_back_by"]) == ("message.called_back", mid, "Frau Kaya")
    assert data["called_back_at"] and data["caller_number"] == "+491701234567" and data["partial"] is False
    first = json.loads(receiver.received[0][1])
    assert first["event"] == "message.created" and first["called_back_at"] is None


def test_webhook_down_retried_with_backoff_then_delivered_exactly_once(notify_settings, receiver, smtp) -> None:
    mid = _save(notify_settings)
    t = utcnow()

    def webhook_row() -> Outbox:
        with session_scope(notify_settings) as db:
            return db.query(Outbox).filter(Outbox.kind == "webhook").one()

    r = notify.run_once(notify_settings, now=t)
    assert (r.sent, r.failed) == (1, 1)  # mail went out, receiver is down
    row = webhook_row()
    assert row.status == "pending" and row.attempts == 1 and "not reachable" in row.last_error
    assert row.next_attempt_at == t + timedelta(seconds=30)
    assert notify.run_once(notify_settings, now=t + timedelta(seconds=10)).failed == 0  # backing off
    notify.run_once(notify_settings, now=t + timedelta(seconds=31))
    row = webhook_row()
    assert row.attempts == 2 and row.next_attempt_at == t + timedelta(seconds=31 + 60)
    receiver.up()
    r = notify.run_once(notify_settings, now=t + timedelta(seconds=92))
    assert (r.sent, r.failed) == (1, 0)
    assert webhook_row().status == "sent" and webhook_row().attempts == 3
    for later in (200, 5000):
        notify.run_once(notify_settings, now=t + timedelta(seconds=later))
    assert len(receiver.received) == 1, "delivered exactly once"
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Receptionist-Signature"] == expected
    assert headers["X-Receptionist-Delivery"] == str(row.id) and headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["message_id"] == mid and data["caller_number"] == "+491701234567" and data["urgency"] == "urgent"
    assert data["company"] == {"slug": "alpha-gmbh", "name": "Alpha GmbH"} and "url" not in data


def test_webhook_error_status_is_a_failure(notify_settings, receiver) -> None:
    class Failing(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Failing)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        _save(notify_settings)
        notify.run_once(notify_settings)
        with session_scope(notify_settings) as db:
            row = db.query(Outbox).filter(Outbox.kind == "webhook").one()
            assert row.status == "pending" and row.last_error == "webhook answered HTTP 500"
    finally:
        server.shutdown()
        server.server_close()


def test_worker_in_app_lifespan_delivers_new_messages(notify_settings, smtp, receiver) -> None:
    receiver.up()
    app = create_app(notify_settings, background=True, outbox_interval_s=0.2)
    with LiveServer(app):
        _save(notify_settings)
        deadline = time.monotonic() + 15
        while (not smtp.messages or not receiver.received) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(smtp.messages) == 1 and len(receiver.received) == 1


def test_outbox_cli_once(notify_settings, smtp, receiver) -> None:
    receiver.up()
    _save(notify_settings)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.update({"RECEPTIONIST_DATA_DIR": str(notify_settings.data_dir), "RECEPTIONIST_SMTP_HOST": "127.0.0.1",
                "RECEPTIONIST_SMTP_PORT": str(smtp.port), "RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE": "true",
                "PYTHONPATH": str(REPO)})
    out = subprocess.run([sys.executable, "-m", "bot.cli", "outbox", "run", "--once"], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "sent 2, failed 0" in out.stdout
    assert len(smtp.messages) == 1 and len(receiver.received) == 1


# --- live inbox ----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_inbox_stream_pushes_new_messages_of_visible_companies_only(notify_settings) -> None:
    with session_scope(notify_settings) as db:
        repo.create_company(db, "beta-ag", "Beta AG")
        repo.create_user(db, "sek@alpha.example", PASSWORD, "secretary", companies=["alpha-gmbh"])
    # plain http here: with an https public URL the session cookie would be Secure and not sent back
    app = create_app(notify_settings.model_copy(update={"public_url": None}), background=False)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as c:
        token = csrf_from(c.get("/login").text)
        r = c.post("/login", data={"email": "sek@alpha.example", "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 303
        with c.stream("GET", "/inbox/stream?after=0") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            with session_scope(notify_settings) as db:
                repo.save_message(db, "beta-ag", CallMessage("Hidden", "+4915112345678", "x", "normal", "de"))
            mid = _save(notify_settings)
            event: dict[str, str] = {}
            for line in stream.iter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    key, _, value = line.partition(":")
                    event[key] = value.strip()
                if "data" in event:
                    break
    assert event["id"] == str(mid) and event["event"] == "message"
    data = json.loads(event["data"])
    assert data["id"] == mid and data["urgency"] == "urgent"
    assert 'href="tel:+491701234567"' in data["html"] and "Erika Mustermann" in data["html"]


# --- personal data in logs -----------------------------------------------------------------------------------------

def test_mask_phone_numbers() -> None:
    for text in ("+49 170 1234567", "0170/1234567", "030-1234567", "+491701234567", "(030) 123 4567"):
        masked = mask(f"caller {text} said")
        assert "1234567" not in masked.replace(" ", "").replace("-", "") and "[number" in masked, masked
    for safe in ("2026-11-30 12:00:00", "127.0.0.1:8000", "outbox 12 failed", "took 1234 ms"):
        assert mask(safe) == safe


def test_pii_filter_rewrites_records_with_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "call from %s", ("+49 170 1234567",), None)
    PiiFilter().filter(record)
    assert "1234567" not in record.getMessage() and "[number …67]" in record.getMessage()


def test_message_flow_logs_no_number_and_no_message_text(notify_settings, receiver, caplog) -> None:
    """Save, notify (one failing, one succeeding), view, mark done, erase: nothing personal in any log record."""
    from fastapi.testclient import TestClient

    caplog.set_level(logging.DEBUG)
    with session_scope(notify_settings) as db:
        repo.create_user(db, "chef@alpha.example", PASSWORD, "admin")
    mid = _save(notify_settings)
    notify.run_once(notify_settings)  # webhook down: a logged failure
    receiver.up()
    notify.run_once(notify_settings, now=utcnow() + timedelta(minutes=5))
    with TestClient(create_app(notify_settings.model_copy(update={"public_url": None}), background=False)) as c:
        token = csrf_from(c.get("/login").text)
        c.post("/login", data={"email": "chef@alpha.example", "password": PASSWORD, "csrf_token": token})
        page = c.get("/inbox")
        assert page.status_code == 200 and "Mustermann" in page.text
        token = csrf_from(page.text)
        assert c.post(f"/api/v1/messages/{mid}/done", headers={"X-CSRF-Token": token}).status_code == 200
        r = c.post("/api/v1/privacy/delete-caller", json={"number": MESSAGE.number}, headers={"X-CSRF-Token": token})
        assert r.json()["messages"] == 1
    # aiosmtpd's own records ("mail.log") are the test's SMTP server talking, not the product
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records if not r.name.startswith("mail."))
    assert caplog.records, "the flow should have logged something"
    for secret in ("1701234567", "170 1234567", "Mustermann", "Zahnschmerzen"):
        assert secret not in text, f"{secret!r} leaked into the logs:\n{text}"
