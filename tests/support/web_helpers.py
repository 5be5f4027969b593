"""Shared set-up for the web app's tests: a small world of companies, users, calls and messages; logging in;
a real uvicorn server in a thread."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
import uvicorn

from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from tests.conftest import free_port

PASSWORD = "correct horse battery"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@dataclass
class World:
    """Two companies (a = own, b = other) with a call and a message each, and one user per role."""

    users: dict[str, str] = field(default_factory=dict)  # role -> e-mail
    call: dict[str, int] = field(default_factory=dict)  # company key -> call id
    message: dict[str, int] = field(default_factory=dict)
    slug: dict[str, str] = field(default_factory=lambda: {"own": "alpha-gmbh", "other": "beta-ag"})


def make_world(settings: Settings) -> World:
    init_db(settings)
    world = World()
    with session_scope(settings) as s:
        a = repo.create_company(s, "alpha-gmbh", "Alpha GmbH", phones=["+49 30 5550100"], email="alpha@example.com")
        b = repo.create_company(s, "beta-ag", "Beta AG", phones=["+49 89 5550200"])
        for role, companies in (("admin", []), ("company_user", [a]), ("secretary", [a])):
            email = f"{role.replace('_', '-')}@example.com"
            repo.create_user(s, email, PASSWORD, role, companies=companies, name=role.title())
            world.users[role] = email
        for key, company, number in (("own", a, "+491701234567"), ("other", b, "+491709876543")):
            call = repo.start_call(s, company, channel="twilio", call_sid=f"CA{key}", caller_number=number,
                                   language="de", started_at=T0)
            repo.add_turn(s, call.id, "caller", "Haben Sie samstags offen?", language="de", offset_ms=1200,
                          latency={"stt_ms": 210.0})
            repo.add_turn(s, call.id, "bot", "Samstags haben wir von 9 bis 12 Uhr geöffnet.", language="de",
                          intent="faq", entry_question="Öffnungszeiten Samstag", offset_ms=2600,
                          latency={"stt_ms": 200.0, "brain_ms": 35.0, "tts_ms": 180.0, "voice_to_voice_ms": 640.0})
            msg = repo.save_message(s, company, CallMessage(name="Erika Mustermann", number=number,
                                                            concern="Bitte um Rückruf wegen Termin", urgency="urgent",
                                                            language="de"), call_id=call.id, now=T0)
            repo.finish_call(s, call.id, "message", summary="Rückrufbitte", ended_at=T0 + timedelta(seconds=75))
            world.call[key], world.message[key] = call.id, msg.id
    return world


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD) -> str:
    """Log ``client`` in through the real login form; returns the session's CSRF token."""
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": email, "password": password, "csrf_token": token, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/account")
    assert page.status_code == 200
    return csrf_from(page.text)


class LiveServer:
    """The app served by uvicorn on a free port in a background thread (lifespan included)."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("uvicorn did not start within 30 s")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
