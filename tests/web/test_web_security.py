"""Security matrix: every role × own/other company × every route → the expected status.

The routes are collected from the app itself, so a new route without a rule here fails
:func:`test_every_route_has_a_rule`. Roles: anonymous, agency admin, company user, secretary (both linked to the
"own" company only), and the company user's API key. Success means the route's documented success status; "other"
company objects answer 404 (their existence is not revealed), wrong roles 403, anonymous 401 (API) or a redirect to
the login page (UI). Also: a missing CSRF token is refused on every state-changing route.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.store.models import User
from bot.runtime import documents
from bot.web import services
from bot.web.app import create_app
from bot.web.routes import iter_routes
from tests.support.web_helpers import PASSWORD, World, csrf_from, login, make_world

ROLES = ("anon", "admin", "company_user", "secretary", "key")
FAQ = b"## Wann haben Sie offen?\nMo-Fr 8-18 Uhr.\n"


@dataclass
class Ctx:
    """What a request builder needs: the world, who acts, which company scope, and the role's own user."""

    settings: Settings
    world: World
    role: str
    scope: str  # "own" | "other" | "-"
    counter: itertools.count

    @property
    def slug(self) -> str:
        return self.world.slug["own" if self.scope in ("own", "-") else "other"]

    def n(self) -> int:
        return next(self.counter)

    def acting_user(self, db) -> User | None:
        role = "company_user" if self.role == "key" else self.role
        return repo.get_user(db, self.world.users[role]) if role in self.world.users else None

    def disposable_company(self) -> str:
        """A fresh company, linked to the company user and secretary when scope is own (for deletions)."""
        slug = f"tmp-{self.n()}"
        with session_scope(self.settings) as db:
            company = repo.create_company(db, slug, "Tmp")
            if self.scope == "own":
                for role in ("company_user", "secretary"):
                    user = repo.get_user(db, self.world.users[role])
                    user.companies.append(company)
                db.commit()
        return slug

    def key_id(self) -> int:
        """An API key of the acting user (own) or of someone else (other)."""
        with session_scope(self.settings) as db:
            user = self.acting_user(db) if self.scope == "own" else None
            if user is None:
                user = repo.get_user(db, self.world.users["admin" if self.role != "admin" else "secretary"])
            row, _ = repo.create_api_key(db, user, f"k{self.n()}")
            return row.id

    def document(self) -> str:
        name = f"doc-{self.n()}.md"
        documents.store_upload(self.settings, self.slug, name, FAQ)
        return name

    def phrasing(self) -> dict[str, str]:
        """A document with one caller phrasing a (stand-in) language model wrote at upload, to be reviewed."""
        name, phrasing = f"doc-{self.n()}.md", f"Wie ist das bei Ihnen geregelt, Nummer {self.n()}?"
        documents.store_upload(self.settings, self.slug, name, FAQ,
                               complete=lambda messages: json.dumps({"1": [phrasing]}))
        return {"document": name, "phrasing": phrasing}

    def indexed(self) -> None:
        """The scope's company has an FAQ in the knowledge base (labels need entries to refer to)."""
        if not any(d["name"] == "matrix-faq.md" for d in documents.list_documents(self.settings, self.slug)):
            documents.store_upload(self.settings, self.slug, "matrix-faq.md", FAQ)

    def gap(self, question: str | None = None) -> int:
        """A fresh open FAQ gap of the scope's company, whose FAQ is indexed."""
        self.indexed()
        with session_scope(self.settings) as db:
            return repo.record_faq_gap(db, self.slug, question or f"Matrixfrage {self.n()}?", "de").id

    def learned_question(self) -> str:
        """A caller question the scope's company's knowledge base has learned (to be forgotten)."""
        question = f"Gelernte Frage {self.n()}?"
        gap_id = self.gap(question)
        with session_scope(self.settings) as db:
            services.label_gaps(db, self.settings, repo.get_company(db, self.slug), [gap_id], None)
        return question

    def recording(self) -> int:
        """The scope's call, given a recording file under the data dir."""
        call_id = self.world.call["own" if self.scope in ("own", "-") else "other"]
        path = self.settings.resolved_data_dir / "recordings" / f"{call_id}.wav"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"RIFF....WAVEfmt ")
        with session_scope(self.settings) as db:
            repo.get_call(db, call_id).recording_path = str(path)
            db.commit()
        return call_id

    def twin(self) -> str:
        """A throwaway user with the acting role and companies (routes that end every session of an account must
        not end the shared clients' sessions)."""
        with session_scope(self.settings) as db:
            me = self.acting_user(db)
            twin = repo.create_user(db, f"twin{self.n()}@example.com", PASSWORD, me.role,
                                    companies=[c.slug for c in me.companies])
            return twin.email

    def user_id(self) -> int:
        with session_scope(self.settings) as db:
            return repo.create_user(db, f"u{self.n()}@example.com", PASSWORD, "secretary").id


Builder = Callable[[Ctx], dict[str, Any]]


def path(template: str) -> Builder:
    def build(ctx: Ctx) -> dict[str, Any]:
        return {"url": template}
    return build


def none(ctx: Ctx) -> dict[str, Any]:
    return {}


# (method, path) -> (rule, success status, scoped, request builder). Builders return url params and body.
ROUTES: dict[tuple[str, str], tuple[str, int, bool, Builder]] = {
    ("GET", "/openapi.json"): ("public", 200, False, none),
    ("GET", "/docs"): ("public", 200, False, none),
    ("GET", "/docs/oauth2-redirect"): ("public", 200, False, none),
    ("GET", "/redoc"): ("public", 200, False, none),
    ("GET", "/healthz"): ("public", 200, False, none),
    ("GET", "/readyz"): ("public", 200, False, none),  # nothing to warm in the test app
    # --- telephony: Twilio webhooks trust only Twilio's signature, never a session or API key (unsigned -> 403)
    ("POST", "/twilio/voice"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1", "To": "+4930123"}}),
    ("POST", "/twilio/status"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1"}}),
    ("POST", "/twilio/dial-result"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1"}}),
    ("POST", "/twilio/whisper"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1"}}),
    ("POST", "/twilio/whisper-answer"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1", "Digits": "1"}}),
    ("POST", "/twilio/secretary-status"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1",
                                                                                     "CallStatus": "busy"}}),
    ("POST", "/twilio/resume"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1"}}),
    ("POST", "/twilio/hold"): ("public", 403, False, lambda c: {"data": {"CallSid": "CA1"}}),
    # the hold music itself: generated audio with nothing personal in it, fetched by Twilio's <Play> (a GET)
    ("GET", "/twilio/hold-music.wav"): ("public", 200, False, none),
    # --- browser call page: public for visitors (demo companies); a malformed WebRTC offer is refused for all
    ("GET", "/call"): ("public", 200, False, none),
    ("POST", "/call/offer"): ("public", 422, False, lambda c: {"json": {"sdp": 1}}),
    ("PATCH", "/call/offer"): ("public", 422, False, lambda c: {"json": {"pc_id": 1}}),
    ("GET", "/lang/{code}"): ("public", 303, False, lambda c: {"fmt": {"code": "en"}}),
    ("GET", "/login"): ("login_page", 200, False, none),
    ("POST", "/login"): ("login_post", 401, False, lambda c: {"data": {"email": "x@example.com", "password": "nope"}}),
    ("POST", "/logout"): ("logout", 303, False, none),
    # --- API
    ("GET", "/api/v1/companies"): ("api_manage_list", 200, False, none),
    ("POST", "/api/v1/companies"): ("api_admin", 201, False, lambda c: {"json": {"slug": f"new-{c.n()}", "name": "N"}}),
    ("GET", "/api/v1/companies/{slug}"): ("api_manage", 200, True, none),
    ("PATCH", "/api/v1/companies/{slug}"): ("api_manage", 200, True, lambda c: {"json": {"retention_days": 31}}),
    ("DELETE", "/api/v1/companies/{slug}"): ("api_admin_company", 204, True,
                                             lambda c: {"fmt": {"slug": c.disposable_company()}}),
    ("GET", "/api/v1/companies/{slug}/documents"): ("api_manage", 200, True, none),
    ("POST", "/api/v1/companies/{slug}/documents"): ("api_manage", 200, True,
                                                     lambda c: {"files": [("files", (f"f{c.n()}.md", FAQ, "text/markdown"))]}),
    ("DELETE", "/api/v1/companies/{slug}/documents/{name}"): ("api_manage", 204, True,
                                                              lambda c: {"fmt": {"name": c.document()}}),
    ("POST", "/api/v1/companies/{slug}/ask"): ("api_manage", 200, True, lambda c: {"json": {"question": "Offen?"}}),
    ("GET", "/api/v1/companies/{slug}/faq-gaps"): ("api_manage", 200, True, none),
    ("POST", "/api/v1/companies/{slug}/faq-entries"): ("api_manage", 200, True,
                                                        lambda c: {"json": {"question": f"Frage {c.n()}?", "answer": "Ja."}}),
    ("POST", "/api/v1/companies/{slug}/faq-gaps/label"): ("api_manage", 200, True, lambda c: {"json": {
        "gap_ids": [c.gap()], "entry_question": None}}),
    ("GET", "/api/v1/companies/{slug}/learned"): ("api_manage", 200, True, none),
    ("DELETE", "/api/v1/companies/{slug}/learned"): ("api_manage", 204, True,
                                                     lambda c: {"json": {"question": c.learned_question()}}),
    ("GET", "/api/v1/calls"): ("api_manage_list", 200, False, none),
    ("GET", "/api/v1/calls/{call_id}"): ("api_view_obj", 200, True, lambda c: {"fmt": {"call_id": c.world.call[c.scope]}}),
    ("GET", "/api/v1/calls/{call_id}/recording"): ("api_view_obj", 200, True,
                                                   lambda c: {"fmt": {"call_id": c.recording()}}),
    ("GET", "/api/v1/messages"): ("api_user", 200, False, none),
    ("POST", "/api/v1/messages/{message_id}/done"): ("api_view_obj", 200, True,
                                                      lambda c: {"fmt": {"message_id": c.world.message[c.scope]}}),
    ("POST", "/api/v1/messages/{message_id}/called-back"): ("api_view_obj", 200, True,
                                                             lambda c: {"fmt": {"message_id": c.world.message[c.scope]}}),
    ("GET", "/api/v1/me"): ("api_user", 200, False, none),
    ("GET", "/api/v1/me/api-keys"): ("api_user", 200, False, none),
    ("POST", "/api/v1/me/api-keys"): ("api_user", 201, False, lambda c: {"json": {"name": "x"}}),
    # a wrong current password: the check is reached, nothing changes for the shared clients
    ("POST", "/api/v1/me/password"): ("api_user", 422, False,
                                      lambda c: {"json": {"current_password": "not-it", "new_password": "n" * 12}}),
    ("POST", "/api/v1/me/sessions/revoke"): ("api_user", 204, False, none),
    ("DELETE", "/api/v1/me/api-keys/{key_id}"): ("api_own_obj", 204, True, lambda c: {"fmt": {"key_id": c.key_id()}}),
    ("GET", "/api/v1/users"): ("api_admin", 200, False, none),
    ("POST", "/api/v1/users"): ("api_admin", 201, False, lambda c: {"json": {
        "email": f"n{c.n()}@example.com", "password": PASSWORD, "role": "secretary", "companies": ["alpha-gmbh"]}}),
    ("PATCH", "/api/v1/users/{user_id}"): ("api_admin", 200, False,
                                           lambda c: {"fmt": {"user_id": c.user_id()}, "json": {"name": "Neu"}}),
    ("POST", "/api/v1/privacy/delete-caller"): ("api_admin", 200, False, lambda c: {"json": {"number": "+4930999999"}}),
    # --- UI
    ("GET", "/"): ("ui_dashboard", 200, False, none),
    ("GET", "/companies"): ("ui_manage_list", 200, False, none),
    ("GET", "/companies/new"): ("ui_admin", 200, False, none),
    ("POST", "/companies/new"): ("ui_admin", 303, False,
                                 lambda c: {"data": {"slug": f"ui-{c.n()}", "name": "U", "languages": ["de"]}}),
    ("GET", "/companies/{slug}"): ("ui_manage", 200, True, none),
    ("POST", "/companies/{slug}"): ("ui_manage", 303, True, lambda c: {"data": {
        "name": "Alpha GmbH" if c.scope == "own" else "Beta AG", "languages": ["de", "en"], "timezone": "Europe/Berlin",
        "office_hours": "mon-fri 09:00-17:00", "retention_days": "30"}}),
    ("POST", "/companies/{slug}/delete"): ("ui_admin_company", 303, True,
                                           lambda c: {"fmt": {"slug": c.disposable_company()}}),
    ("GET", "/companies/{slug}/faq"): ("ui_manage", 200, True, none),
    ("GET", "/companies/{slug}/voice-sample"): ("ui_manage", 200, True, lambda c: {"params": {"voice": "espeak-ng"}}),
    ("GET", "/companies/{slug}/faq/documents"): ("ui_manage", 200, True, none),
    ("POST", "/companies/{slug}/faq/delete"): ("ui_manage", 303, True, lambda c: {"data": {"name": c.document()}}),
    ("POST", "/companies/{slug}/faq/phrasing/remove"): ("ui_manage", 303, True, lambda c: {"data": c.phrasing()}),
    ("POST", "/companies/{slug}/faq/ask"): ("ui_manage", 200, True, lambda c: {"data": {"question": "Offen?"}}),
    ("GET", "/companies/{slug}/gaps"): ("ui_manage", 200, True, none),
    ("POST", "/companies/{slug}/gaps"): ("ui_manage", 303, True,
                                         lambda c: {"data": {"question": f"Frage {c.n()}?", "answer": "Ja."}}),
    ("POST", "/companies/{slug}/gaps/label"): ("ui_manage", 303, True, lambda c: {"data": {
        "gap_ids": str(c.gap()), "action": "not_covered"}}),
    ("POST", "/companies/{slug}/gaps/forget"): ("ui_manage", 303, True,
                                                lambda c: {"data": {"question": c.learned_question()}}),
    ("GET", "/calls"): ("ui_manage_list", 200, False, none),
    ("GET", "/calls/{call_id}"): ("ui_view_obj", 200, True, lambda c: {"fmt": {"call_id": c.world.call[c.scope]}}),
    ("GET", "/inbox"): ("ui_user", 200, False, none),
    ("GET", "/inbox/stream"): ("ui_user", 200, False, none),
    ("POST", "/inbox/{message_id}/done"): ("ui_view_obj", 303, True,
                                           lambda c: {"fmt": {"message_id": c.world.message[c.scope]}, "data": {"done": "1"}}),
    ("POST", "/inbox/{message_id}/called-back"): ("ui_view_obj", 303, True, lambda c: {
        "fmt": {"message_id": c.world.message[c.scope]}, "data": {"called_back": "1"}}),
    ("GET", "/account"): ("ui_user", 200, False, none),
    ("POST", "/account/api-keys"): ("ui_user", 200, False, lambda c: {"data": {"name": "k"}}),
    ("POST", "/account/password"): ("ui_user", 422, False, lambda c: {"data": {
        "current_password": "not-it", "new_password": "n" * 12, "new_password_repeat": "n" * 12}}),
    ("POST", "/account/sessions/revoke"): ("ui_user", 303, False, none),
    ("POST", "/account/api-keys/{key_id}/revoke"): ("ui_own_obj", 303, True, lambda c: {"fmt": {"key_id": c.key_id()}}),
    ("GET", "/users"): ("ui_admin", 200, False, none),
    ("POST", "/users"): ("ui_admin", 303, False, lambda c: {"data": {
        "email": f"m{c.n()}@example.com", "password": PASSWORD, "role": "secretary"}}),
    ("POST", "/users/{user_id}/active"): ("ui_admin", 303, False,
                                          lambda c: {"fmt": {"user_id": c.user_id()}, "data": {"active": "0"}}),
    ("GET", "/privacy"): ("ui_admin", 200, False, none),
    ("POST", "/privacy"): ("ui_admin", 200, False, lambda c: {"data": {"number": "+4930999999"}}),
}


def expected(rule: str, role: str, scope: str, ok: int) -> int:
    """The status ``role`` must get on a route with ``rule``, for its own or another company's object."""
    as_role = "company_user" if role == "key" else role
    api = rule.startswith("api_")
    if rule == "public":
        return ok
    if rule == "login_page":
        return 303 if role in ("admin", "company_user", "secretary") else ok
    if rule == "login_post":
        return ok  # wrong password: 401 for everyone (an API-key request carries no ambient credentials)
    if rule == "logout":
        return ok
    if role == "anon" or (role == "key" and not api):
        return 401 if api else 303  # UI pages: redirect to login (API keys are for the API only)
    other = scope == "other"
    if rule in ("api_user", "ui_user"):
        return ok
    if rule in ("api_admin", "ui_admin", "api_admin_company", "ui_admin_company"):
        return ok if as_role == "admin" else 403
    if rule in ("api_manage", "ui_manage"):
        if as_role == "admin":
            return ok
        if other:
            return 404
        return 403 if as_role == "secretary" else ok
    if rule in ("api_manage_list", "ui_manage_list"):
        return 403 if as_role == "secretary" else ok
    if rule == "ui_dashboard":
        return 303 if as_role == "secretary" else ok
    if rule in ("api_view_obj", "ui_view_obj"):
        return 404 if other and as_role != "admin" else ok
    if rule in ("api_own_obj", "ui_own_obj"):
        return 404 if other else ok
    raise AssertionError(f"unknown rule {rule}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    import os

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RECEPTIONIST_")}
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("security") / "data")
    world = make_world(settings)
    app = create_app(settings, background=False, sse_max_s=0.2)
    clients: dict[str, tuple[TestClient, dict[str, str]]] = {}
    with TestClient(app) as anon:
        anon.get("/login")
        clients["anon"] = (anon, {"X-CSRF-Token": csrf_from(anon.get("/login").text)})
        for role in ("admin", "company_user", "secretary"):
            c = TestClient(app)
            clients[role] = (c, {"X-CSRF-Token": login(c, world.users[role])})
        with session_scope(settings) as db:
            _, key = repo.create_api_key(db, repo.get_user(db, world.users["company_user"]), "matrix")
        clients["key"] = (TestClient(app), {"Authorization": f"Bearer {key}"})
        yield settings, world, app, clients
    os.environ.update(saved)
    from bot.store.db import dispose_engines

    dispose_engines()


def app_routes(app) -> set[tuple[str, str]]:
    return {(m, p) for m, p in iter_routes(app) if m != "HEAD"}


def test_every_route_has_a_rule(env) -> None:
    _, _, app, _ = env
    routes = app_routes(app)
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"routes without a security rule in tests/web/test_web_security.py: {missing}"
    stale = sorted(set(ROUTES) - routes)
    assert not stale, f"rules for routes that do not exist: {stale}"


CASES = [(method, route, role, scope)
         for (method, route), (_, _, scoped, _) in ROUTES.items()
         for role in ROLES for scope in (("own", "other") if scoped else ("-",))]


@pytest.mark.parametrize("method,route,role,scope", CASES, ids=[f"{m} {r} {ro} {s}" for m, r, ro, s in CASES])
def test_matrix(env, method: str, route: str, role: str, scope: str) -> None:
    settings, world, app, clients = env
    rule, ok, _, build = ROUTES[(method, route)]
    ctx = Ctx(settings, world, role, scope, env_counter)
    spec = build(ctx)
    fmt = {"slug": ctx.slug, **spec.get("fmt", {})}
    url = route.format(**fmt)
    client, headers = clients[role]
    kwargs = {k: v for k, v in spec.items() if k in ("json", "data", "files")}
    if route == "/logout" and role in world.users:  # a client of its own: the shared one must stay logged in
        with TestClient(app) as fresh:
            headers = {"X-CSRF-Token": login(fresh, world.users[role])}
            response = fresh.request(method, url, headers=headers, follow_redirects=False, **kwargs)
            assert fresh.get("/api/v1/me").status_code == 401, "still logged in after logout"
    elif route.endswith("/sessions/revoke") and role != "anon":  # ends every session of the account: use a twin
        twin = ctx.twin()
        with TestClient(app) as acting, TestClient(app) as elsewhere:
            login(elsewhere, twin)
            if role == "key":
                with session_scope(settings) as db:
                    _, key = repo.create_api_key(db, repo.get_user(db, twin), "twin")
                headers = {"Authorization": f"Bearer {key}"}
            else:
                headers = {"X-CSRF-Token": login(acting, twin)}
            response = acting.request(method, url, headers=headers, follow_redirects=False, **kwargs)
            carried_out = role != "key" or rule.startswith("api_")  # an API key on a UI page is sent to the login
            if carried_out and response.status_code == expected(rule, role, scope, ok):
                assert elsewhere.get("/api/v1/me").status_code == 401, "another session survived the revocation"
                if role != "key":
                    assert acting.get("/api/v1/me").status_code == 200, "the revoking session itself must go on"
    else:
        response = client.request(method, url, headers=headers, follow_redirects=False, **kwargs)
    want = expected(rule, role, scope, ok)
    assert response.status_code == want, f"{role} {method} {url}: {response.status_code} {response.text[:300]}"


env_counter = itertools.count(1)


# Twilio webhooks and the WebRTC offer are called by Twilio / the call page's script, not by forms: the signature
# (Twilio) and a per-call token (the stream) protect them instead of a CSRF token.
CSRF_EXEMPT = ("/login", "/twilio/voice", "/twilio/status", "/twilio/dial-result", "/twilio/whisper",
               "/twilio/whisper-answer", "/twilio/secretary-status", "/twilio/resume", "/twilio/hold", "/call/offer")
UNSAFE = sorted((m, r) for (m, r) in ROUTES if m in ("POST", "PATCH", "PUT", "DELETE") and r not in CSRF_EXEMPT)


@pytest.mark.parametrize("method,route", UNSAFE, ids=[f"{m} {r}" for m, r in UNSAFE])
def test_csrf_token_missing_is_403_on_every_state_change(env, method: str, route: str) -> None:
    settings, world, app, clients = env
    client, _ = clients["admin"]
    _, _, _, build = ROUTES[(method, route)]
    spec = build(Ctx(settings, world, "admin", "own", env_counter))
    url = route.format(**{"slug": world.slug["own"], **spec.get("fmt", {})})
    kwargs = {k: v for k, v in spec.items() if k in ("json", "data", "files")}
    response = client.request(method, url, follow_redirects=False, **kwargs)
    assert response.status_code == 403, f"{method} {url} without CSRF token: {response.status_code}"
    wrong = client.request(method, url, headers={"X-CSRF-Token": "forged"}, follow_redirects=False, **kwargs)
    assert wrong.status_code == 403
