"""The web app end to end through its HTTP interface: login and sessions, API keys, companies, documents, FAQ
gaps, calls, inbox, DSGVO erasure, retention, languages."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.web.app import create_app
from bot.web.security import COOKIE, SessionCodec, load_secret
from tests.conftest import free_port
from tests.support.web_helpers import PASSWORD, T0, csrf_from, login, make_world

REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(settings: Settings):
    return make_world(settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: Settings, world, clock):
    return create_app(settings, background=False, session_codec=SessionCodec(load_secret(settings), clock=clock))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin(client, world) -> str:
    return login(client, world.users["admin"])


# --- login, sessions --------------------------------------------------------------------------------------------

def test_login_wrong_password_is_refused_in_plain_words(client, world) -> None:
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": world.users["admin"], "password": "wrong-password", "csrf_token": token})
    assert r.status_code == 401
    assert "E-Mail oder Passwort ist nicht richtig" in r.text or "E-mail or password is not correct" in r.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_sets_a_hardened_cookie_and_logout_ends_it(client, world) -> None:
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": world.users["admin"].upper(), "password": PASSWORD, "csrf_token": token,
                                    "next": "/calls"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/calls"
    cookie = r.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/calls").status_code == 200
    new_token = csrf_from(client.get("/calls").text)
    assert new_token != token, "the CSRF token must change at login (no session fixation)"
    r = client.post("/logout", data={"csrf_token": new_token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/calls", follow_redirects=False).headers["location"] == "/login?next=/calls"


def test_login_redirect_target_must_be_local(client, world) -> None:
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": world.users["admin"], "password": PASSWORD, "csrf_token": token,
                                    "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_cookie_is_secure_behind_https(settings, world) -> None:
    app = create_app(settings, background=False)
    with TestClient(app, base_url="https://testserver") as c:
        c.get("/login")
        token = c.cookies.get(COOKIE) and csrf_from(c.get("/login").text)
        r = c.post("/login", data={"email": world.users["admin"], "password": PASSWORD, "csrf_token": token},
                   follow_redirects=False)
        assert "Secure" in r.headers["set-cookie"]


def test_session_expires_after_idle_time_and_slides_while_used(client, world, clock) -> None:
    login(client, world.users["admin"])
    clock.now += 7 * 3600
    assert client.get("/inbox").status_code == 200  # used within 8 h: the window slides
    clock.now += 7 * 3600
    assert client.get("/inbox").status_code == 200
    clock.now += 8 * 3600 + 1
    r = client.get("/inbox", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/api/v1/me").status_code == 401


def test_forged_or_tampered_cookie_is_anonymous(client, world) -> None:
    login(client, world.users["secretary"])
    value = client.cookies.get(COOKIE)
    assert client.get("/api/v1/me").status_code == 200
    client.cookies.clear()
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/api/v1/me").status_code == 401


def test_deactivated_user_loses_access_at_once(client, world, settings) -> None:
    login(client, world.users["company_user"])
    with session_scope(settings) as s:
        repo.get_user(s, world.users["company_user"]).active = False
        s.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_csrf_token_required_for_cookie_posts(client, world) -> None:
    token = login(client, world.users["admin"])
    mid = world.message["own"]
    assert client.post(f"/api/v1/messages/{mid}/done").status_code == 403
    assert client.post(f"/api/v1/messages/{mid}/done", headers={"X-CSRF-Token": "x" + token}).status_code == 403
    r = client.post(f"/inbox/{mid}/done", data={"done": "1"})
    assert r.status_code == 403 and "security token" in r.text
    assert client.post(f"/api/v1/messages/{mid}/done", headers={"X-CSRF-Token": token}).json()["status"] == "done"


def test_login_form_itself_needs_its_csrf_token(client, world) -> None:
    r = client.post("/login", data={"email": world.users["admin"], "password": PASSWORD})
    assert r.status_code == 403


# --- API keys ---------------------------------------------------------------------------------------------------

def test_api_key_lifecycle(client, world, app) -> None:
    token = login(client, world.users["company_user"])
    r = client.post("/api/v1/me/api-keys", json={"name": "CRM"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 201
    key, key_id = r.json()["key"], r.json()["id"]
    with TestClient(app) as api:
        bearer = {"Authorization": f"Bearer {key}"}
        assert api.get("/api/v1/me", headers=bearer).json()["role"] == "company_user"
        # no CSRF needed with an API key: no ambient credentials
        r = api.post(f"/api/v1/messages/{world.message['own']}/done", headers=bearer)
        assert r.status_code == 200 and r.json()["status"] == "done"
        assert api.get("/api/v1/me", headers={"Authorization": "Bearer rk_wrong"}).status_code == 401
        assert api.get("/", headers=bearer, follow_redirects=False).status_code == 303  # UI: sessions only
    assert client.delete(f"/api/v1/me/api-keys/{key_id}", headers={"X-CSRF-Token": token}).status_code == 204
    with TestClient(app) as api:
        assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_account_page_shows_a_new_key_once(client, world) -> None:
    token = login(client, world.users["secretary"])
    r = client.post("/account/api-keys", data={"name": "Telefon-App", "csrf_token": token})
    assert r.status_code == 200
    key = r.text.split('id="new-key" class="mono">')[1].split("<")[0]
    assert key.startswith("rk_")
    assert key not in client.get("/account").text


# --- companies ----------------------------------------------------------------------------------------------------

def test_company_crud_over_the_api(client, admin) -> None:
    h = {"X-CSRF-Token": admin}
    body = {"slug": "gamma-kg", "name": "Gamma KG", "languages": ["de"], "office_hours": "mon-fri 08:00-16:00",
            "bundesland": "nw", "phone_numbers": ["0221 5550300"], "secretary_number": "0221 5550301",
            "email": "gamma@example.com", "webhook_url": "https://hooks.example.com/x", "retention_days": 14,
            "recording_enabled": True, "greeting_de": "Gamma KG, guten Tag."}
    r = client.post("/api/v1/companies", json=body, headers=h)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["bundesland"] == "NW" and c["phone_numbers"] == ["+492215550300"] and c["retention_days"] == 14
    assert c["recording_enabled"] is True and c["webhook_secret_set"] is True and "webhook_secret" not in c
    assert c["office_hours"].startswith("mon-fri 08:00-16:00")
    r = client.patch("/api/v1/companies/gamma-kg", json={"phone_numbers": ["+49 221 5550399"], "timezone": "Europe/Vienna"},
                     headers=h)
    assert r.json()["phone_numbers"] == ["+492215550399"] and r.json()["timezone"] == "Europe/Vienna"
    assert r.json()["name"] == "Gamma KG"
    r = client.patch("/api/v1/companies/gamma-kg", json={"timezone": "Mars/Olympus"}, headers=h)
    assert r.status_code == 422 and "unknown time zone 'Mars/Olympus'" in r.json()["detail"]
    assert client.post("/api/v1/companies", json={**body, "slug": "gamma-kg"}, headers=h).status_code == 422
    assert client.delete("/api/v1/companies/gamma-kg", headers=h).status_code == 204
    assert client.get("/api/v1/companies/gamma-kg").status_code == 404


def test_company_form_shows_validation_errors_in_plain_words_and_keeps_input(client, admin, settings) -> None:
    r = client.post("/companies/alpha-gmbh", data={"csrf_token": admin, "name": "Alpha GmbH Neu", "languages": ["de"],
                                                  "timezone": "Europe/Berlin", "office_hours": "mon-fri 09:00-17:00",
                                                  "secretary_number": "12", "retention_days": "30"})
    assert r.status_code == 422
    assert "Nicht gespeichert" in r.text or "Not saved" in r.text
    assert "is not a valid phone number" in r.text or "is not a phone number" in r.text
    assert 'value="Alpha GmbH Neu"' in r.text  # what was typed is not lost
    with session_scope(settings) as s:
        assert repo.get_company(s, "alpha-gmbh").name == "Alpha GmbH"
    r = client.post("/companies/alpha-gmbh", data={"csrf_token": admin, "name": "Alpha GmbH Neu", "languages": ["de", "en"],
                                                  "timezone": "Europe/Berlin", "office_hours": "mon-fri 09:00-17:00",
                                                  "secretary_number": "030 5550199", "retention_days": "60",
                                                  "recording_enabled": "on", "phone_numbers": "030 5550100\n030 5550101"},
                    follow_redirects=False)
    assert r.status_code == 303
    with session_scope(settings) as s:
        c = repo.get_company(s, "alpha-gmbh")
        assert (c.name, c.retention_days, c.recording_enabled, c.secretary_number) == \
            ("Alpha GmbH Neu", 60, True, "+49305550199")
        assert c.phone_numbers == ["+49305550100", "+49305550101"]


def test_new_company_form(client, admin) -> None:
    r = client.post("/companies/new", data={"csrf_token": admin, "slug": "Bad Slug", "name": "X", "languages": ["de"]})
    assert r.status_code == 422 and "is not valid" in r.text and 'value="Bad Slug"' in r.text
    r = client.post("/companies/new", data={"csrf_token": admin, "slug": "delta", "name": "Delta", "languages": ["en"],
                                           "default_language": "en"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/companies/delta")


# --- documents, FAQ gaps ---------------------------------------------------------------------------------------

FAQ_MD = "# FAQ\n\n## Wann haben Sie geöffnet?\nMontag bis Freitag 8 bis 18 Uhr.\n\n## Wo kann ich parken?\nIm Hof.\n"


def test_multi_file_upload_reports_each_file(client, admin, settings) -> None:
    h = {"X-CSRF-Token": admin}
    files = [("files", ("faq.md", FAQ_MD.encode(), "text/markdown")),
             ("files", ("preise.csv", "Frage;Antwort\nWas kostet ein Ölwechsel?;89 Euro\n".encode(), "text/csv")),
             ("files", ("kaputt.pdf", b"not really a pdf", "application/pdf"))]
    r = client.post("/api/v1/companies/alpha-gmbh/documents", files=files, headers=h)
    assert r.status_code == 200, r.text
    results = {x["name"]: x for x in r.json()["results"]}
    assert results["faq.md"]["ok"] and results["faq.md"]["entries"] == 2
    assert results["preise.csv"]["ok"] and results["preise.csv"]["entries"] == 1
    assert not results["kaputt.pdf"]["ok"] and results["kaputt.pdf"]["error"]
    docs = {d["name"]: d for d in client.get("/api/v1/companies/alpha-gmbh/documents").json()}
    assert set(docs) == {"faq.md", "preise.csv", "kaputt.pdf"}
    assert docs["kaputt.pdf"]["status"] == "error" and docs["kaputt.pdf"]["error"] == results["kaputt.pdf"]["error"]
    page = client.get("/companies/alpha-gmbh/faq").text
    assert "faq.md" in page and results["kaputt.pdf"]["error"].split(" (")[0][:40] in page.replace("&#39;", "'")
    # replace: same name, new content
    r = client.post("/api/v1/companies/alpha-gmbh/documents", headers=h,
                    files=[("files", ("faq.md", (FAQ_MD + "## Neu?\nJa.\n").encode(), "text/markdown"))])
    assert r.json()["results"][0]["replaced"] is True and r.json()["results"][0]["entries"] == 3
    assert client.delete("/api/v1/companies/alpha-gmbh/documents/preise.csv", headers=h).status_code == 204
    assert client.delete("/api/v1/companies/alpha-gmbh/documents/preise.csv", headers=h).status_code == 404
    assert [d["name"] for d in client.get("/api/v1/companies/alpha-gmbh/documents").json()] == ["faq.md", "kaputt.pdf"]


def test_upload_over_the_size_limit_is_413_with_a_plain_message(client, admin, monkeypatch) -> None:
    from bot.runtime import documents
    from knowledge.documents import IngestLimits

    monkeypatch.setattr(documents, "limits", lambda: IngestLimits(max_file_bytes=1000))
    files = [("files", ("ok.md", FAQ_MD.encode(), "text/markdown")), ("files", ("big.md", b"x" * 1001, "text/markdown"))]
    r = client.post("/api/v1/companies/alpha-gmbh/documents", files=files, headers={"X-CSRF-Token": admin})
    assert r.status_code == 413
    assert r.json()["detail"].startswith("big.md: the file is") and "the limit is" in r.json()["detail"]
    assert client.get("/api/v1/companies/alpha-gmbh/documents").json() == []  # nothing half-stored


def test_whole_request_over_the_body_limit_is_refused_before_reading(client, admin) -> None:
    from bot.web.app import MAX_BODY_BYTES

    r = client.post("/api/v1/companies/alpha-gmbh/documents", headers={"X-CSRF-Token": admin,
                    "Content-Length": str(MAX_BODY_BYTES + 1), "Content-Type": "multipart/form-data; boundary=x"},
                    content=b"--x--")
    assert r.status_code == 413 and "at most" in r.json()["detail"]


def test_faq_gaps_grouped_and_one_click_entry(client, admin, settings) -> None:
    with session_scope(settings) as s:
        for q in ("Kann ich mit Karte zahlen?", "kann ich mit karte zahlen", "Gibt es WLAN?"):
            repo.record_faq_gap(s, "alpha-gmbh", q, "de")
    groups = client.get("/api/v1/companies/alpha-gmbh/faq-gaps").json()
    assert [g["count"] for g in groups] == [2, 1]
    page = client.get("/companies/alpha-gmbh/gaps").text
    assert "Gibt es WLAN?" in page and "2×" in page
    r = client.post("/companies/alpha-gmbh/gaps", data={"csrf_token": admin, "question": "Kann ich mit Karte zahlen?",
                                                       "answer": "Ja, mit EC- und Kreditkarte.",
                                                       "gap_ids": ",".join(map(str, groups[0]["gap_ids"]))},
                    follow_redirects=False)
    assert r.status_code == 303
    assert [g["question"] for g in client.get("/api/v1/companies/alpha-gmbh/faq-gaps").json()] == ["Gibt es WLAN?"]
    docs = {d["name"]: d for d in client.get("/api/v1/companies/alpha-gmbh/documents").json()}
    assert docs["added-in-web.json"]["ok"] and docs["added-in-web.json"]["entries"] == 1
    # the same question again updates the entry instead of adding a second one; API twin
    r = client.post("/api/v1/companies/alpha-gmbh/faq-entries", headers={"X-CSRF-Token": admin},
                    json={"question": "kann ich mit karte zahlen?", "answer": "Ja, auch kontaktlos.",
                          "gap_ids": groups[1]["gap_ids"]})
    assert r.status_code == 200 and r.json()["results"][0]["entries"] == 1
    assert client.get("/api/v1/companies/alpha-gmbh/faq-gaps").json() == []


def test_gap_ids_of_another_company_are_not_resolved(client, world, settings) -> None:
    token = login(client, world.users["company_user"])
    with session_scope(settings) as s:
        other = repo.record_faq_gap(s, "beta-ag", "Geheime Frage?", "de").id
    client.post("/api/v1/companies/alpha-gmbh/faq-entries", headers={"X-CSRF-Token": token},
                json={"question": "Frage?", "answer": "Antwort.", "gap_ids": [other]})
    with session_scope(settings) as s:
        assert len(repo.faq_gap_groups(s, "beta-ag")) == 1


# --- calls, messages -------------------------------------------------------------------------------------------

def test_calls_list_filters_and_detail(client, admin, settings, world) -> None:
    with session_scope(settings) as s:
        c = repo.start_call(s, "alpha-gmbh", channel="browser", language="en", started_at=T0 + timedelta(days=3))
        repo.finish_call(s, c.id, "answered", ended_at=T0 + timedelta(days=3, seconds=30))
    page = client.get("/api/v1/calls").json()
    assert page["total"] == 3
    assert client.get("/api/v1/calls?company=alpha-gmbh&language=en").json()["items"][0]["outcome"] == "answered"
    assert client.get("/api/v1/calls?outcome=message").json()["total"] == 2
    assert client.get("/api/v1/calls?from=2026-03-03&to=2026-03-10").json()["total"] == 1
    assert client.get("/api/v1/calls?to=2026-03-02").json()["total"] == 2
    d = client.get(f"/api/v1/calls/{world.call['own']}").json()
    assert d["duration_s"] == 75 and d["summary"] == "Rückrufbitte" and d["message_ids"] == [world.message["own"]]
    assert [t["speaker"] for t in d["turns"]] == ["caller", "bot"]
    assert d["turns"][1]["latency"]["voice_to_voice_ms"] == 640.0 and d["latency_ms"]["stt_ms"] == 205.0
    html = client.get(f"/calls/{world.call['own']}").text
    assert "Samstags haben wir von 9 bis 12 Uhr geöffnet." in html and "640 ms" in html and "1:15" in html
    table = client.get("/calls?outcome=answered&language=en").text.split('<table class="list">')[1]
    assert "Alpha GmbH" in table and "Beta AG" not in table


def test_summaries_priorities_and_tags_in_calls_inbox_and_api(client, admin, settings, world) -> None:
    with session_scope(settings) as s:
        c = repo.start_call(s, "alpha-gmbh", channel="browser", caller_number="+491701112223", started_at=T0)
        repo.add_turn(s, c.id, "caller", "Kann ich bei Ihnen mit Bitcoin zahlen?", offset_ms=1000)
        repo.add_turn(s, c.id, "bot", "Dazu kann ich leider nichts sagen.", intent="not_covered", offset_ms=2000)
        repo.finish_call(s, c.id, "abandoned", ended_at=T0 + timedelta(seconds=40))
    d = client.get(f"/api/v1/calls/{c.id}").json()
    assert d["priority"] == "normal" and d["tags"] == ["not_covered"]
    assert d["summary"].startswith("Anliegen: Kann ich bei Ihnen mit Bitcoin zahlen.") and "FAQ" in d["summary"]
    own = client.get(f"/api/v1/calls/{world.call['own']}").json()
    assert (own["priority"], own["tags"], own["summary"]) == ("urgent", ["answered", "message"], "Rückrufbitte")
    table = client.get("/calls").text.split('<table class="list">')[1]
    assert 'class="badge priority-normal"' in table and 'class="badge priority-urgent"' in table
    assert "nicht in den FAQ" in table and "beantwortet" in table
    detail = client.get(f"/calls/{c.id}").text
    assert 'class="call-summary">Anliegen: Kann ich bei Ihnen mit Bitcoin zahlen.' in detail
    inbox = client.get("/inbox").text
    assert '<p class="summary small">Rückrufbitte</p>' in inbox  # urgent message: the urgency badge says it once
    msgs = client.get("/api/v1/messages").json()
    assert {(m["summary"], m["priority"]) for m in msgs if m["id"] == world.message["own"]} == {("Rückrufbitte",
                                                                                                "urgent")}


def test_inbox_lists_marks_done_and_reopens(client, world) -> None:
    token = login(client, world.users["secretary"])
    html = client.get("/inbox").text
    assert 'href="tel:+491701234567"' in html and "Erika Mustermann" in html and "Bitte um Rückruf" in html
    assert "+491709876543" not in html  # other company's message
    assert f'href="/calls/{world.call["own"]}"' in html
    mid = world.message["own"]
    r = client.post(f"/inbox/{mid}/done", data={"csrf_token": token, "done": "1"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'class="msg done' in r.text
    assert "Erika" not in client.get("/inbox").text.split('id="messages"')[1]
    assert client.get("/api/v1/messages?status=done").json()[0]["id"] == mid
    client.post(f"/api/v1/messages/{mid}/done", json={"done": False}, headers={"X-CSRF-Token": token})
    assert client.get("/api/v1/messages?status=new").json()[0]["id"] == mid


def test_partial_message_is_marked_in_the_inbox_and_the_api(client, world, settings) -> None:
    from bot.brain.types import CallMessage

    with session_scope(settings) as s:
        partial = repo.save_message(s, "alpha-gmbh", CallMessage("Paul Teil", "+4915798765432", "", "normal", "de",
                                                                 complete=False)).id
    login(client, world.users["secretary"])
    html = client.get("/inbox", headers={"Accept-Language": "de"}).text
    items = {i.split('"', 1)[0]: i for i in html.split('id="message-')[1:]}
    assert 'class="badge partial"' in items[str(partial)] and "Unvollständig" in items[str(partial)]
    assert "Paul Teil" in items[str(partial)]
    assert "badge partial" not in items[str(world.message["own"])]  # a complete message has no mark
    english = client.get("/inbox", headers={"Accept-Language": "en"}).text.split(f'id="message-{partial}"')[1].split("</li>")[0]
    assert ">Partial<" in english
    api = {m["id"]: m for m in client.get("/api/v1/messages").json()}
    assert api[partial]["partial"] is True and api[world.message["own"]]["partial"] is False


def test_open_callbacks_called_back_button_shows_who_and_the_api_carries_it(client, world, settings) -> None:
    with session_scope(settings) as s:
        repo.get_user(s, world.users["secretary"]).name = "Frau Kaya"
        s.commit()
    token = login(client, world.users["secretary"])
    mid = world.message["own"]
    de = {"Accept-Language": "de"}
    page = client.get("/inbox?status=callbacks", headers=de).text
    assert 'href="/inbox?status=callbacks" class="active">Offene Rückrufe</a>' in page
    assert f'action="/inbox/{mid}/called-back"' in page and "Zurückgerufen" in page
    r = client.post(f"/inbox/{mid}/called-back", data={"csrf_token": token, "called_back": "1"},
                    headers={"HX-Request": "true", **de})
    assert r.status_code == 200 and 'class="msg done' in r.text and "zurückgerufen von Frau Kaya" in r.text
    assert f'id="message-{mid}"' not in client.get("/inbox?status=callbacks").text  # off the callback list
    assert "zurückgerufen von Frau Kaya" in client.get("/inbox?status=done", headers=de).text
    got = {m["id"]: m for m in client.get("/api/v1/messages").json()}[mid]
    assert got["called_back_by"] == "Frau Kaya" and got["called_back_at"] and got["status"] == "done"
    assert client.get("/api/v1/messages?open_callbacks=true").json() == []
    # the API takes it back (cookie + CSRF header, as the other message actions)
    r = client.post(f"/api/v1/messages/{mid}/called-back", json={"called_back": False}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and (r.json()["called_back_at"], r.json()["status"]) == (None, "new")
    assert [m["id"] for m in client.get("/api/v1/messages?open_callbacks=true").json()] == [mid]
    assert client.post(f"/inbox/{mid}/called-back", data={"called_back": "1"}).status_code == 403  # no CSRF token


def test_api_key_marks_called_back(client, world, settings, app) -> None:
    with session_scope(settings) as s:
        _, key = repo.create_api_key(s, repo.get_user(s, world.users["secretary"]), "crm")
    mid = world.message["own"]
    with TestClient(app) as api:
        r = api.post(f"/api/v1/messages/{mid}/called-back", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["called_back_by"] == "Secretary"  # make_world names its users


def test_messages_after_id_for_polling(client, admin, settings) -> None:
    from bot.brain.types import CallMessage

    last = max(m["id"] for m in client.get("/api/v1/messages").json())
    with session_scope(settings) as s:
        new = repo.save_message(s, "beta-ag", CallMessage("Max", "+4915112345678", "Angebot", "normal", "de"))
    assert [m["id"] for m in client.get(f"/api/v1/messages?after_id={last}").json()] == [new.id]


# --- DSGVO ------------------------------------------------------------------------------------------------------

def test_delete_caller_by_number(client, admin, world, settings) -> None:
    r = client.post("/api/v1/privacy/delete-caller", json={"number": "0170 1234567"}, headers={"X-CSRF-Token": admin})
    assert r.status_code == 200 and r.json()["calls"] == 1 and r.json()["messages"] == 1
    assert client.get(f"/api/v1/calls/{world.call['own']}").status_code == 404
    assert client.get(f"/api/v1/calls/{world.call['other']}").status_code == 200
    r = client.post("/api/v1/privacy/delete-caller", json={"number": "abc"}, headers={"X-CSRF-Token": admin})
    assert r.status_code == 422 and "is not a phone number" in r.json()["detail"]
    r = client.post("/privacy", data={"csrf_token": admin, "number": "+49 170 9876543"})
    assert r.status_code == 200 and ("Gelöscht: 1 Anrufe" in r.text or "Erased: 1 calls" in r.text)


def test_retention_job_runs_at_start(settings, world) -> None:
    """With background jobs on, the lifespan purges expired data right away (and daily after)."""
    app = create_app(settings, background=True, outbox_interval_s=60)
    with TestClient(app):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with session_scope(settings) as s:
                if repo.get_message(s, world.message["own"]) is None:
                    break
            time.sleep(0.1)
    with session_scope(settings) as s:
        assert repo.get_message(s, world.message["own"]) is None  # T0 is far beyond 30 days
        assert repo.get_call(s, world.call["own"]).purged_at is not None


# --- languages, docs -------------------------------------------------------------------------------------------

def test_ui_languages_complete_and_switchable(client, world) -> None:
    de = yaml.safe_load((REPO / "bot/web/i18n/de.yaml").read_text("utf-8"))
    en = yaml.safe_load((REPO / "bot/web/i18n/en.yaml").read_text("utf-8"))
    assert set(de) == set(en)
    login(client, world.users["admin"])
    client.get("/lang/de?next=/inbox")
    assert "Posteingang" in client.get("/inbox").text
    r = client.get("/lang/en?next=/inbox", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/inbox"
    assert "Inbox" in client.get("/inbox").text and "Posteingang" not in client.get("/inbox").text


def test_openapi_documents_the_api(client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/companies", "/api/v1/companies/{slug}/documents", "/api/v1/companies/{slug}/ask",
                 "/api/v1/calls", "/api/v1/messages", "/api/v1/privacy/delete-caller", "/api/v1/users"):
        assert path in spec["paths"], path
    assert "CompanyOut" in spec["components"]["schemas"]
    assert not any(p.startswith("/companies") or p == "/inbox" for p in spec["paths"])


@pytest.mark.slow
def test_serve_demo_prints_the_login_and_it_works(tmp_path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.update({"RECEPTIONIST_DATA_DIR": str(tmp_path / "d"), "PYTHONPATH": str(REPO)})
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo", "--port", str(port)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
            if line.strip().startswith("Demo login:"):
                break
        email, password = lines[-1].split(":", 1)[1].strip().split(" / ")
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.3)
        with httpx.Client(base_url=base) as c:
            token = csrf_from(c.get("/login").text)
            r = c.post("/login", data={"email": email, "password": password, "csrf_token": token})
            assert r.status_code == 303
            companies = c.get("/api/v1/companies").json()
            assert {"kfz-huber", "praxis-berger", "keller-wright"} <= {x["slug"] for x in companies}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_deleting_a_company_removes_its_calls_messages_and_documents(client, admin, settings, world) -> None:
    from bot.runtime import documents

    documents.store_upload(settings, "beta-ag", "faq.md", FAQ_MD.encode())
    assert client.delete("/api/v1/companies/beta-ag", headers={"X-CSRF-Token": admin}).status_code == 204
    with session_scope(settings) as s:
        assert repo.get_call(s, world.call["other"]) is None and repo.get_message(s, world.message["other"]) is None
        assert repo.get_message(s, world.message["own"]) is not None
    assert documents.list_documents(settings, "beta-ag") == []


def test_core_flow_on_both_databases(db_settings) -> None:
    """Login, companies, inbox, mark done, delivery bookkeeping: on SQLite and on a real PostgreSQL server."""
    from bot.runtime import outbox as notify

    world = make_world(db_settings)
    with TestClient(create_app(db_settings, background=False)) as c:
        token = login(c, world.users["company_user"])
        assert [x["slug"] for x in c.get("/api/v1/companies").json()] == ["alpha-gmbh"]
        assert "Erika Mustermann" in c.get("/inbox").text
        r = c.post(f"/api/v1/messages/{world.message['own']}/done", headers={"X-CSRF-Token": token})
        assert r.json()["status"] == "done"
        assert c.get("/api/v1/calls").json()["total"] == 1
    report = notify.run_once(db_settings)  # alpha has an e-mail address but no SMTP server is configured
    assert (report.sent, report.failed) == (0, 1)
    from bot.store.outbox import pending

    with session_scope(db_settings) as s:
        (row,) = pending(s)
        assert row.attempts == 1 and "no SMTP server configured" in row.last_error


def test_repeated_wrong_passwords_are_throttled(client, world) -> None:
    email = world.users["secretary"]
    token = csrf_from(client.get("/login").text)
    for _ in range(5):
        assert client.post("/login", data={"email": email, "password": "wrong-wrong", "csrf_token": token}).status_code == 401
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and ("Too many wrong passwords" in r.text or "Zu viele falsche Passwörter" in r.text)
    # another account is not affected
    r = client.post("/login", data={"email": world.users["admin"], "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303


def test_recording_served_only_from_the_data_dir(client, admin, settings, world, tmp_path) -> None:
    url = f"/api/v1/calls/{world.call['own']}/recording"
    assert client.get(url).status_code == 404  # recording is off by default
    inside = settings.resolved_data_dir / "recordings" / "a.wav"
    inside.parent.mkdir()
    inside.write_bytes(b"RIFF0000WAVE")
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"not yours")
    for path, status in ((outside, 404), (inside, 200)):
        with session_scope(settings) as s:
            repo.get_call(s, world.call["own"]).recording_path = str(path)
            s.commit()
        r = client.get(url)
        assert r.status_code == status
    assert r.content == b"RIFF0000WAVE" and r.headers["content-type"] == "audio/wav"
    assert f'<audio controls preload="none" src="{url}">' in client.get(f"/calls/{world.call['own']}").text
