"""Oversized input is refused at the edge, fast, and never holds up other requests.

A 40 KB e-mail address used to take seconds to refuse (a backtracking regular expression in the store's validator
holds the interpreter lock, so ``/healthz`` waited as long). Now every string field of the API schemas and the UI
forms has a length cap, the e-mail check is one pass, and ids are bounded.
"""

from __future__ import annotations

import threading
import time
import types
import typing

import httpx
import pytest
from annotated_types import MaxLen
from fastapi.testclient import TestClient
from pydantic import BaseModel

from bot.store import repo, validate
from bot.store.db import session_scope
from bot.web.app import create_app
from bot.web.routes import iter_endpoints
from tests.support.web_fuzz import endpoint
from tests.support.web_helpers import LiveServer, login, make_world

def adversarial_email(size: int) -> str:
    """The worst case for the old pattern ^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$: every dot is a place to backtrack to."""
    return "a@" + "a." * ((size - 3) // 2) + "@"


def best_time(fn, *args, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - started)
    return min(times)


def refuse(value: str) -> None:
    with pytest.raises(validate.InvalidInput):
        validate.email(value)


def test_email_check_is_linear() -> None:
    # linear: 10x the input takes about 10x as long; the old check took about 100x
    small, large = adversarial_email(4_000), adversarial_email(40_000)
    assert not validate.looks_like_email(small) and not validate.looks_like_email(large)
    ratio = best_time(validate.looks_like_email, large) / max(best_time(validate.looks_like_email, small), 1e-7)
    assert ratio < 35, f"40 KB took {ratio:.0f}x as long as 4 KB"
    # the validator itself refuses both, the long one by its length before looking at it
    ratio = best_time(refuse, large) / max(best_time(refuse, small), 1e-7)
    assert ratio < 35, f"validate.email: 40 KB took {ratio:.0f}x as long as 4 KB"


def test_email_check_keeps_its_meaning() -> None:
    for good in ("info@example.com", "a.b+c@sub.example.de", "x@y.z", "  büro@müller.de "):
        assert validate.email(good) == good.strip()
    for bad in ("", "plain", "@example.com", "a@", "a@b", "a@.com", "a@com.", "a@b@c.de", "a b@c.de", "a\tb@c.de",
                "a@b .de", "x" * 250 + "@example.com"):
        if bad.strip():
            refuse(bad)
    assert "at most 254" in str(pytest.raises(validate.InvalidInput, validate.email, "x" * 300 + "@a.de").value)


def test_oversized_fields_are_refused_fast_with_a_plain_4xx(settings) -> None:
    world = make_world(settings)
    with TestClient(create_app(settings, background=False)) as client:
        h = {"X-CSRF-Token": login(client, world.users["admin"])}
        big = adversarial_email(40_000)

        def patch(email: str) -> httpx.Response:
            return client.patch("/api/v1/companies/alpha-gmbh", json={"email": email}, headers=h)

        started = time.perf_counter()
        r = patch(big)
        big_s = time.perf_counter() - started
        assert r.status_code == 422 and r.json()["detail"] == "email: String should have at most 254 characters"
        small_s = best_time(patch, "a@b")
        assert big_s < 20 * small_s + 0.25, f"40 KB e-mail: {big_s:.2f} s, a short bad one {small_s:.3f} s"

        cases = [("PATCH", "/api/v1/companies/alpha-gmbh", {"greeting_de": "Hallo " * 8000}, "greeting_de"),
                 ("PATCH", "/api/v1/companies/alpha-gmbh", {"name": "N" * 201}, "name"),
                 ("PATCH", "/api/v1/companies/alpha-gmbh", {"phone_numbers": ["0" * 65]}, "phone_numbers.0"),
                 ("PATCH", "/api/v1/companies/alpha-gmbh", {"office_hours": "mon 08:00-09:00," * 100},
                  "office_hours"),
                 ("POST", "/api/v1/users", {"email": big, "password": "x" * 10, "role": "secretary"}, "email"),
                 ("POST", "/api/v1/users", {"email": "n@example.com", "password": "x" * 2000, "role": "secretary"},
                  "password"),
                 ("POST", "/api/v1/companies/alpha-gmbh/faq-entries", {"question": "Frage?", "answer": "a" * 6000},
                  "answer"),
                 ("POST", "/api/v1/companies/alpha-gmbh/ask", {"question": "q" * 1001}, "question"),
                 ("POST", "/api/v1/privacy/delete-caller", {"number": "1" * 40_000}, "number"),
                 ("POST", "/api/v1/me/api-keys", {"name": "k" * 201}, "name")]
        for method, url, body, field in cases:
            r = client.request(method, url, json=body, headers=h)
            assert r.status_code == 422, (url, body.keys(), r.status_code)
            assert r.json()["detail"].startswith(f"{field}: ") and "at most" in r.json()["detail"], r.json()
        r = client.patch("/api/v1/companies/alpha-gmbh", json={"name": "Alpha\x00GmbH"}, headers=h)
        assert r.status_code == 422 and "control character U+0000" in r.json()["detail"]

        # the UI's forms: the same caps, the form shown again with the reason
        form = {"name": "Alpha GmbH", "languages": ["de"], "email": big, "csrf_token": h["X-CSRF-Token"]}
        r = client.post("/companies/alpha-gmbh", data=form)
        assert r.status_code == 422 and "email: String should have at most 254 characters" in r.text
        r = client.post("/users", data={"email": big, "password": "x" * 10, "role": "secretary",
                                        "csrf_token": h["X-CSRF-Token"]})
        assert r.status_code == 422 and "email: String should have at most 254 characters" in r.text
        r = client.post("/privacy", data={"number": "1" * 40_000, "csrf_token": h["X-CSRF-Token"]})
        assert r.status_code == 422 and "number: String should have at most 64 characters" in r.text
        # and a request body over the limit is not even read
        r = client.patch("/api/v1/companies/alpha-gmbh", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                         headers={**h, "Content-Type": "application/json"})
        assert r.status_code == 413 and "at most 1 MB" in r.json()["detail"]
        with session_scope(settings) as db:
            company = repo.get_company(db, "alpha-gmbh")
            assert company.email == "alpha@example.com" and company.name == "Alpha GmbH"


def _capped(metadata) -> bool:
    return any(isinstance(m, MaxLen) or _capped(getattr(m, "metadata", ())) for m in metadata)


def _uncapped(annotation, metadata, where: str) -> list[str]:
    """Where a ``str`` inside ``annotation`` has no max_length (``metadata``: the constraints that apply to it)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _uncapped(inner, [*metadata, *extra], where)
    if annotation is str:
        return [] if _capped(metadata) else [where]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [m for name, info in annotation.model_fields.items()
                for m in _uncapped(info.annotation, info.metadata, f"{where}.{name}")]
    union = origin in (typing.Union, types.UnionType)  # a field's cap applies to "str | None"; a list's to its length
    return [m for arg in typing.get_args(annotation) for m in _uncapped(arg, metadata if union else [], where)]


def test_every_string_field_of_the_api_has_a_length_cap() -> None:
    """New fields of the API's request bodies get a cap too (read from the app's routes, like the fuzz test)."""
    app = create_app(background=False)
    missing = []
    for method, path, route in iter_endpoints(app):
        ep = endpoint(method, path, route)
        if ep.is_api and ep.model is not None:
            missing += _uncapped(ep.model, [], f"{method} {path} {ep.model.__name__}")
    assert not missing, "string fields without max_length: " + ", ".join(sorted(set(missing)))


@pytest.mark.slow
def test_healthz_answers_while_large_bad_requests_are_processed(settings) -> None:
    world = make_world(settings)
    with session_scope(settings) as db:
        _, key = repo.create_api_key(db, repo.get_user(db, world.users["admin"]), "load")
    bad = adversarial_email(40_000)
    statuses: list[int] = []
    stop = threading.Event()

    with LiveServer(create_app(settings, background=False)) as server:
        def flood() -> None:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
                while not stop.is_set():
                    for url, body in (("/api/v1/companies/alpha-gmbh", {"email": bad}),
                                      ("/api/v1/users", {"email": bad, "password": "x" * 10, "role": "secretary"})):
                        method = "PATCH" if url.endswith("gmbh") else "POST"
                        statuses.append(c.request(method, url, json=body).status_code)

        threads = [threading.Thread(target=flood) for _ in range(2)]
        for t in threads:
            t.start()
        waits = []
        try:
            with httpx.Client(base_url=server.url, timeout=30) as c:
                for _ in range(10):
                    time.sleep(0.1)
                    started = time.perf_counter()
                    assert c.get("/healthz").status_code == 200
                    waits.append(time.perf_counter() - started)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
    assert statuses and set(statuses) == {422}, set(statuses)
    assert max(waits) < 1.0, f"/healthz waited up to {max(waits):.2f} s behind {len(statuses)} bad requests"
