"""Property test: malformed requests to every route, as a logged-in admin, never get a 5xx, every 4xx says in words
what is wrong, and afterwards no document is half indexed.

The routes come from the app itself (:func:`bot.web.routes.iter_endpoints`), and what each one accepts from its
FastAPI declaration (see tests/support/web_fuzz.py), so a new route is fuzzed without anything to add here. API routes get
the session cookie with its CSRF token and the admin's API key in turn; UI routes the cookie. The requests are
generated from a fixed seed: a failure names the request that failed, and a rerun sends the same one.
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.runtime import documents
from bot.runtime import knowledge as kb
from bot.web.app import create_app
from bot.web.routes import iter_endpoints
from tests.support.web_fuzz import FAQ, Case, Endpoint, cases, endpoint, template_form_fields
from tests.support.web_helpers import PASSWORD, login, make_world

SEED = 20260311
FUZZ_COMPANY = "fuzz-co"
MIN_REQUESTS = 1000


def plain_message(response) -> str | None:
    """The words a 4xx tells its reader, or None when it tells nothing readable (empty, a raw error structure)."""
    ctype = response.headers.get("content-type", "")
    if "json" in ctype:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
        return detail if isinstance(detail, str) and detail.strip() and detail[0] not in "[{" else None
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", response.text, flags=re.S)
    text = " ".join(text.split())
    if response.status_code == 401 and response.headers.get("hx-redirect"):
        return "login required (htmx redirect)"
    return text or None


def half_indexed(settings: Settings) -> list[str]:
    """Documents the knowledge base answers from that the upload records (the manifest beside the index) do not
    hold as indexed, and vice versa: the web list shows the index's documents, so the two must agree."""
    problems = []
    companies = {p.name for p in (settings.resolved_data_dir / "documents").iterdir() if p.is_dir()} \
        if (settings.resolved_data_dir / "documents").is_dir() else set()
    companies |= set(kb.get_kb(settings).companies())
    for slug in sorted(companies):
        listed = {d["name"] for d in documents.list_raw(settings, slug) if d["status"] == "indexed"}
        assert listed <= {d["name"] for d in documents.list_documents(settings, slug)}
        indexed = {d.name for d in kb.get_kb(settings).list_documents(slug)}
        problems += [f"{slug}: {n!r} indexed but not listed" for n in sorted(indexed - listed)]
        problems += [f"{slug}: {n!r} listed as indexed but not in the index" for n in sorted(listed - indexed)]
    return problems


class Fuzzer:
    """The world the requests act on, kept alive between routes (a fuzzed request may log out, delete the fuzz
    company or its document; those are put back before the next route)."""

    def __init__(self, settings: Settings, app) -> None:
        self.settings, self.app = settings, app
        self.world = make_world(settings)
        self.cookie = TestClient(app, raise_server_exceptions=False)
        self.keyed = TestClient(app, raise_server_exceptions=False)
        with session_scope(settings) as db:
            admin = repo.get_user(db, self.world.users["admin"])
            _, key = repo.create_api_key(db, admin, "fuzz")
            self.victim_key = repo.create_api_key(db, admin, "victim")[0].id
            self.victim_user = repo.create_user(db, "victim@example.com", PASSWORD, "secretary").id
        self.keyed.headers["Authorization"] = f"Bearer {key}"
        self.csrf = ""
        self.restore()
        self.sent = 0
        self.failures: list[str] = []
        self.unplain: list[str] = []

    def restore(self) -> None:
        if self.cookie.get("/api/v1/me").status_code != 200:
            self.cookie.cookies.clear()
            self.csrf = login(self.cookie, self.world.users["admin"])
        with session_scope(self.settings) as db:
            if repo.get_company(db, FUZZ_COMPANY) is None:
                repo.create_company(db, FUZZ_COMPANY, "Fuzz GmbH")
        if not any(d["name"] == "faq.md" for d in documents.list_documents(self.settings, FUZZ_COMPANY)):
            documents.store_upload(self.settings, FUZZ_COMPANY, "faq.md", FAQ)

    def valid(self) -> dict[str, str]:
        return {"slug": FUZZ_COMPANY, "name": "faq.md", "call_id": str(self.world.call["own"]),
                "message_id": str(self.world.message["own"]), "key_id": str(self.victim_key),
                "user_id": str(self.victim_user), "code": "en"}

    def send(self, ep: Endpoint, case: Case, n: int) -> None:
        use_key = ep.is_api and n % 2 == 1
        client = self.keyed if use_key else self.cookie
        headers = dict(case.headers)
        if not use_key and case.csrf_header:
            headers["X-CSRF-Token"] = self.csrf
        if case.content_type:
            headers["Content-Type"] = case.content_type
        if n % 3 == 2:
            headers["Accept"] = "text/html"  # the HTML error page path
        response = client.request(ep.method, case.url, params=case.params, content=case.content, headers=headers,
                                  follow_redirects=False)
        self.sent += 1
        where = f"{ep.method} {ep.path} [{case.what}{', api key' if use_key else ''}]"
        if response.status_code >= 500:
            self.failures.append(f"{where}: {response.status_code} {response.text[:160]!r}")
        elif response.status_code >= 400 and plain_message(response) is None:
            self.unplain.append(f"{where}: {response.status_code} {response.text[:160]!r}")


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    import os

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RECEPTIONIST_")}
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("fuzz") / "data")
    app = create_app(settings, background=False, sse_max_s=0.05)
    with TestClient(app):
        yield Fuzzer(settings, app)
    os.environ.update(saved)
    from bot.store.db import dispose_engines

    dispose_engines()


@pytest.mark.slow
def test_malformed_requests_to_every_route_get_a_plain_4xx_and_leave_no_half_indexed_document(fuzzer) -> None:
    started = time.monotonic()
    form_fields = template_form_fields()
    endpoints = [endpoint(m, p, r) for m, p, r in iter_endpoints(fuzzer.app) if m != "HEAD"]
    assert len(endpoints) > 60, "the app's routes were not collected"
    for ep in endpoints:
        for n, case in enumerate(cases(ep, fuzzer.valid(), form_fields, fuzzer.csrf, SEED)):
            fuzzer.send(ep, case, n)
        fuzzer.restore()
    elapsed = time.monotonic() - started
    print(f"fuzzed {len(endpoints)} routes with {fuzzer.sent} malformed requests in {elapsed:.1f} s")
    assert fuzzer.sent >= MIN_REQUESTS
    assert not fuzzer.failures, f"{len(fuzzer.failures)} responses >= 500:\n" + "\n".join(fuzzer.failures[:60])
    assert not fuzzer.unplain, f"{len(fuzzer.unplain)} 4xx without a plain message:\n" + "\n".join(fuzzer.unplain[:40])
    assert half_indexed(fuzzer.settings) == []
