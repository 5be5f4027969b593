"""A company's webhook cannot be aimed into the server's own network (issue 11, item 6: SSRF).

Refused when saved (API, settings form, CLI) and again when sent, against the addresses the name resolves to at that
moment; the request goes to the checked address. Real HTTP receivers on loopback stand for "something inside the
network"; only DNS answers are simulated (no DNS server can exist here), through the resolver the check calls.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.brain.types import CallMessage
from bot.runtime import outbox, webhook_targets
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from bot.store.models import Company, Outbox
from bot.web.app import create_app
from tests.conftest import free_port
from tests.support.web_helpers import csrf_from, login, make_world

REPO = Path(__file__).resolve().parents[2]

HOSTILE = [
    "http://127.0.0.1:8000/api/v1/companies",
    "http://localhost:5432/",
    "http://LOCALHOST./x",
    "http://[::1]/",
    "http://127.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.178.1/",  # a Fritz!Box
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://[fc00::1]/",
    "http://0.0.0.0:8000/",
    "http://intranet/hook",
    "http://printer.local/",
    "http://db.internal:5432/",
    "https://user:pw@127.0.0.1/",
]
ALWAYS_REFUSED = ["http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/",
                  "http://[fe80::1]/", "http://[fd00:ec2::254]/", "http://0.0.0.0/", "http://224.0.0.1/"]
PUBLIC = ["https://hooks.example.com/x", "https://93.184.215.14/hook", "http://[2606:4700::1111]:8443/in"]


# --- the rule ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", HOSTILE)
def test_internal_targets_are_refused_by_their_spelling(url: str) -> None:
    with pytest.raises(webhook_targets.TargetRefused, match="refused"):
        webhook_targets.check_saved_url(url, allow_private=False)


@pytest.mark.parametrize("url", PUBLIC)
def test_public_targets_are_accepted(url: str) -> None:
    webhook_targets.check_saved_url(url, allow_private=False)


@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_metadata_link_local_and_unusable_addresses_stay_refused_when_private_targets_are_allowed(url: str) -> None:
    with pytest.raises(webhook_targets.TargetRefused):
        webhook_targets.check_saved_url(url, allow_private=True)


def test_private_targets_are_accepted_when_an_admin_allows_them() -> None:
    for url in ("http://10.0.0.5/hook", "http://127.0.0.1:9000/", "http://intranet/hook", "http://192.168.178.1/"):
        webhook_targets.check_saved_url(url, allow_private=True)


def test_the_refusal_names_the_setting_that_allows_internal_receivers() -> None:
    with pytest.raises(webhook_targets.TargetRefused, match="RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE=true"):
        webhook_targets.check_saved_url("http://10.1.2.3/", allow_private=False)


# --- saved through every way in -----------------------------------------------------------------------------------

@pytest.fixture
def world(settings: Settings):
    return make_world(settings)


def saved_webhook(settings: Settings) -> str | None:
    with session_scope(settings) as db:
        return repo.get_company(db, "alpha-gmbh").webhook_url


@pytest.mark.slow
def test_the_api_refuses_an_internal_webhook_and_keeps_the_old_one(settings, world) -> None:
    app = create_app(settings, background=False)
    with TestClient(app) as c:
        token = login(c, world.users["company_user"])
        ok = c.patch("/api/v1/companies/alpha-gmbh", headers={"X-CSRF-Token": token},
                     json={"webhook_url": "https://hooks.example.com/in"})
        assert ok.status_code == 200
        for url in HOSTILE:
            r = c.patch("/api/v1/companies/alpha-gmbh", headers={"X-CSRF-Token": token}, json={"webhook_url": url})
            assert r.status_code == 422 and "refused" in r.text, (url, r.status_code, r.text)
        assert saved_webhook(settings) == "https://hooks.example.com/in"
        token = login(c, world.users["admin"])
        r = c.post("/api/v1/companies", headers={"X-CSRF-Token": token},
                   json={"slug": "gamma", "name": "Gamma", "webhook_url": "http://169.254.169.254/"})
        assert r.status_code == 422
        assert c.get("/api/v1/companies/gamma").status_code == 404, "nothing created"


def test_the_settings_form_refuses_an_internal_webhook(settings, world) -> None:
    app = create_app(settings, background=False)
    with TestClient(app) as c:
        login(c, world.users["company_user"])
        page = c.get("/companies/alpha-gmbh").text
        form = {"csrf_token": csrf_from(page), "name": "Alpha GmbH", "languages": ["de"], "timezone": "Europe/Berlin",
                "office_hours": "mon-fri 09:00-17:00", "retention_days": "30"}
        r = c.post("/companies/alpha-gmbh", data={**form, "webhook_url": "http://192.168.178.1/"})
        assert r.status_code == 422 and "192.168.178.1 is a private or internal address" in r.text
        assert 'value="http://192.168.178.1/"' in r.text, "what was typed is shown again to correct it"
        assert c.post("/companies/alpha-gmbh", data={**form, "webhook_url": "https://hooks.example.com/in"},
                      follow_redirects=False).status_code == 303
    assert saved_webhook(settings) == "https://hooks.example.com/in"
    with TestClient(app) as c:
        login(c, world.users["company_user"])
        r = c.post("/companies/alpha-gmbh", data={**form, "csrf_token": csrf_from(c.get("/companies/alpha-gmbh").text),
                                                   "webhook_url": "http://localhost:8000/"})
        assert r.status_code == 422
    assert saved_webhook(settings) == "https://hooks.example.com/in"


def test_an_admin_setting_allows_internal_receivers(settings, world) -> None:
    app = create_app(settings.model_copy(update={"webhook_allow_private": True}), background=False)
    with TestClient(app) as c:
        token = login(c, world.users["company_user"])
        r = c.patch("/api/v1/companies/alpha-gmbh", headers={"X-CSRF-Token": token},
                    json={"webhook_url": "http://10.0.0.5/hook"})
        assert r.status_code == 200
        r = c.patch("/api/v1/companies/alpha-gmbh", headers={"X-CSRF-Token": token},
                    json={"webhook_url": "http://169.254.169.254/"})
        assert r.status_code == 422
    assert saved_webhook(settings) == "http://10.0.0.5/hook"


@pytest.mark.slow
def test_the_cli_refuses_an_internal_webhook(settings, world) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.update({"RECEPTIONIST_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(REPO)})
    cmd = [sys.executable, "-m", "bot.cli", "company", "set", "alpha-gmbh", "--webhook-url", "http://127.0.0.1:8000/"]
    out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "127.0.0.1 is a loopback address" in out.stderr
    assert saved_webhook(settings) is None
    out = subprocess.run(cmd, env={**env, "RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE": "true"}, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert saved_webhook(settings) == "http://127.0.0.1:8000/"


# --- checked again when sent ------------------------------------------------------------------------------------

class Receiver:
    """A real HTTP server on loopback: 'something inside the network'. Records every request it gets."""

    def __init__(self, status: int = 204, location: str | None = None) -> None:
        self.port, self.hits = free_port(), []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                hits.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _any  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    """Answer these names with these addresses (a DNS server that lies, as in a rebinding attack)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (a, port) if ":" not in a else (a, port, 0, 0)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def queued_webhook(settings: Settings, url: str) -> int:
    """A message whose webhook row points at ``url``, written straight into the store (as a row saved before
    the check existed, or under a setting since turned off, would be)."""
    init_db(settings)
    with session_scope(settings) as db:
        company = repo.get_company(db, "alpha-gmbh") or repo.create_company(db, "alpha-gmbh", "Alpha GmbH")
        company.webhook_url, company.webhook_secret = url, "whsec_test"
        db.commit()
        repo.save_message(db, company, CallMessage(name="Erika Mustermann", number="+491701234567",
                                                   concern="Rückruf", urgency="normal", language="de"))
        return db.query(Outbox).filter(Outbox.kind == "webhook").one().id


def last_error(settings: Settings, row_id: int) -> str:
    with session_scope(settings) as db:
        return db.get(Outbox, row_id).last_error or ""


def test_a_stored_internal_webhook_is_not_called(settings, receiver) -> None:
    row = queued_webhook(settings, f"http://127.0.0.1:{receiver.port}/admin")
    assert outbox.run_once(settings).failed == 1
    assert receiver.hits == []
    assert "127.0.0.1 is a loopback address" in last_error(settings, row)
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    with session_scope(settings) as db:  # due again now
        db.get(Outbox, row).next_attempt_at = db.get(Outbox, row).created_at
        db.commit()
    assert outbox.run_once(allowed).sent == 1
    assert len(receiver.hits) == 1 and receiver.hits[0][1] == "/admin"


def test_a_name_that_now_resolves_inside_is_refused_when_sent(settings, receiver, monkeypatch) -> None:
    """DNS rebinding: public when saved, loopback when sent."""
    url = f"http://hooks.rebind.example:{receiver.port}/in"
    webhook_targets.check_saved_url(url, allow_private=False)  # passes at save time: no DNS then
    row = queued_webhook(settings, url)
    fake_dns(monkeypatch, {"hooks.rebind.example": ["127.0.0.1"]})
    assert outbox.run_once(settings).failed == 1
    assert receiver.hits == []
    assert "hooks.rebind.example refused: 127.0.0.1 is a loopback address" in last_error(settings, row)


def test_a_name_with_one_internal_address_among_public_ones_is_refused(settings, receiver, monkeypatch) -> None:
    fake_dns(monkeypatch, {"hooks.mixed.example": ["93.184.215.14", "127.0.0.1"]})
    with pytest.raises(webhook_targets.TargetRefused, match="127.0.0.1"):
        webhook_targets.pin(f"http://hooks.mixed.example:{receiver.port}/", allow_private=False)


def test_the_request_goes_to_the_checked_address_with_the_original_host(settings, receiver, monkeypatch) -> None:
    """The name is looked up once, for the check; the connection goes to that address (a second lookup could be
    answered differently: here it would point at an address nothing answers on)."""
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.customer.example":
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "10.255.255.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    allowed = settings.model_copy(update={"webhook_allow_private": True})
    queued_webhook(allowed, f"http://hooks.customer.example:{receiver.port}/in?x=1")
    assert outbox.run_once(allowed).sent == 1
    (method, path, headers, body), = receiver.hits
    assert (method, path) == ("POST", "/in?x=1")
    assert headers["Host"] == f"hooks.customer.example:{receiver.port}"
    assert headers["X-Receptionist-Signature"].startswith("sha256=") and b"Erika Mustermann" in body
    assert lookups == ["hooks.customer.example"]
    lookups.clear()
    target = webhook_targets.pin(f"https://hooks.customer.example:{receiver.port}/in", True)
    assert target.url == f"https://127.0.0.1:{receiver.port}/in" and target.tls_name == "hooks.customer.example"


def test_a_redirect_into_the_network_is_not_followed(settings, monkeypatch) -> None:
    inside = Receiver()
    bouncer = Receiver(status=302, location=f"http://127.0.0.1:{inside.port}/secret")
    try:
        fake_dns(monkeypatch, {"hooks.bounce.example": ["127.0.0.1"]})
        allowed = settings.model_copy(update={"webhook_allow_private": True})  # to reach the bouncer on loopback
        row = queued_webhook(allowed, f"http://hooks.bounce.example:{bouncer.port}/in")
        assert outbox.run_once(allowed).failed == 1
        assert len(bouncer.hits) == 1 and inside.hits == []
        assert "HTTP 302" in last_error(allowed, row)
    finally:
        inside.close()
        bouncer.close()


def test_embedded_ipv4_forms_are_judged_by_the_address_they_carry() -> None:
    for text in ("::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1"):
        assert "private" in webhook_targets.refusal(ipaddress.ip_address(text), allow_private=False)
    assert webhook_targets.refusal(ipaddress.ip_address("::ffff:93.184.215.14"), allow_private=False) is None


def test_company_rows_keep_no_unchecked_target_after_the_fuzz_of_the_api(settings, world) -> None:
    """Every spelling in HOSTILE through the API: no company ends up with an internal webhook."""
    app = create_app(settings, background=False)
    with TestClient(app) as c:
        token = login(c, world.users["admin"])
        for slug in ("alpha-gmbh", "beta-ag"):
            for url in HOSTILE:
                c.patch(f"/api/v1/companies/{slug}", headers={"X-CSRF-Token": token}, json={"webhook_url": url})
    with session_scope(settings) as db:
        assert [c.webhook_url for c in db.query(Company)] == [None, None]
