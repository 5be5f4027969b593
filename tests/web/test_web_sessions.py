"""Sessions can be revoked and logins are throttled (issue 11, item 5).

The session cookie is signed and stateless, so before this a copy of it kept working after logout. Now a logout
revokes that session on the server, and a password change, a deactivation or "log out everywhere" ends every
earlier session of the account. Wrong passwords are throttled per account (whatever the address) and per address
(whatever the account), counted in the shared database so two app instances ("workers") see the same failures.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.web.app import create_app
from bot.web.ratelimit import ACCOUNT_FREE, ADDRESS_FREE, MAX_WAIT_S, LoginThrottle, backoff_s
from bot.web.security import COOKIE, SessionCodec, load_secret
from tests.support.web_helpers import PASSWORD, csrf_from, login, make_world


class Clock:
    """A settable UTC clock for the throttle."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(db_settings: Settings):
    return make_world(db_settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def new_app(settings: Settings, clock: Clock):
    app = create_app(settings, background=False)
    app.state.login_throttle = LoginThrottle(clock=clock)
    return app


@pytest.fixture
def app(db_settings: Settings, world, clock):
    return new_app(db_settings, clock)


def logged_in(client: TestClient) -> bool:
    return client.get("/api/v1/me").status_code == 200


def try_login(client: TestClient, email: str, password: str):
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       follow_redirects=False)


# --- revocation -------------------------------------------------------------------------------------------------

def test_a_copied_cookie_is_refused_after_logout(app, world) -> None:
    with TestClient(app) as browser, TestClient(app) as thief:
        token = login(browser, world.users["secretary"])
        stolen = browser.cookies.get(COOKIE)
        thief.cookies.set(COOKIE, stolen)
        assert logged_in(thief), "the copy works while the session lives"
        assert browser.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        assert not logged_in(browser)
        assert not logged_in(thief), "a logged-out session's cookie must not work anywhere"
        assert thief.get("/inbox", follow_redirects=False).headers["location"].startswith("/login")


def test_logout_ends_only_its_own_session(app, world) -> None:
    with TestClient(app) as laptop, TestClient(app) as phone:
        token = login(laptop, world.users["secretary"])
        login(phone, world.users["secretary"])
        laptop.post("/logout", data={"csrf_token": token})
        assert not logged_in(laptop) and logged_in(phone)


def test_a_password_change_ends_every_other_session_and_keeps_this_one(app, world) -> None:
    email = world.users["company_user"]
    with TestClient(app) as here, TestClient(app) as elsewhere:
        token = login(here, email)
        login(elsewhere, email)
        r = here.post("/account/password", data={"csrf_token": token, "current_password": PASSWORD,
                                                  "new_password": "a-new-secret-1", "new_password_repeat": "a-new-secret-1"},
                      follow_redirects=False)
        assert r.status_code == 303
        assert logged_in(here), "the session that changed the password goes on"
        assert not logged_in(elsewhere), "whoever knew the old password is logged out"
    with TestClient(app) as c:
        assert try_login(c, email, PASSWORD).status_code == 401
        assert try_login(c, email, "a-new-secret-1").status_code == 303


@pytest.mark.parametrize("form,error", [
    ({"current_password": "wrong-one!", "new_password": "a-new-secret-1", "new_password_repeat": "a-new-secret-1"},
     ("Das jetzige Passwort ist nicht richtig", "The current password is not correct")),
    ({"current_password": PASSWORD, "new_password": "a-new-secret-1", "new_password_repeat": "a-new-secret-2"},
     ("nicht gleich", "differ")),
    ({"current_password": PASSWORD, "new_password": "short", "new_password_repeat": "short"},
     ("8 bis 1024 Zeichen", "8 to 1024 characters")),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, world, form, error) -> None:
    email = world.users["company_user"]
    with TestClient(app) as here, TestClient(app) as elsewhere:
        token = login(here, email)
        login(elsewhere, email)
        r = here.post("/account/password", data={"csrf_token": token, **form})
        assert r.status_code == 422 and any(e in r.text for e in error)
        assert logged_in(here) and logged_in(elsewhere)
    with TestClient(app) as c:
        assert try_login(c, email, PASSWORD).status_code == 303


def test_the_api_password_change_asks_for_the_current_password(app, world, db_settings) -> None:
    email = world.users["secretary"]
    with session_scope(db_settings) as db:
        _, key = repo.create_api_key(db, repo.get_user(db, email), "script")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as c, TestClient(app) as browser:
        login(browser, email)
        r = c.post("/api/v1/me/password", headers=auth, json={"current_password": "nope-nope", "new_password": "x" * 12})
        assert r.status_code == 422 and "current password is not correct" in r.text
        assert logged_in(browser)
        r = c.post("/api/v1/me/password", headers=auth, json={"current_password": PASSWORD, "new_password": "x" * 12})
        assert r.status_code == 204
        assert not logged_in(browser)
        assert c.get("/api/v1/me", headers=auth).status_code == 200, "API keys stay valid"


def test_an_admin_password_reset_and_a_deactivation_end_the_users_sessions(app, world) -> None:
    with TestClient(app) as admin, TestClient(app) as user:
        token = login(admin, world.users["admin"])
        login(user, world.users["secretary"])
        user_id = user.get("/api/v1/me").json()["id"]
        r = admin.patch(f"/api/v1/users/{user_id}", headers={"X-CSRF-Token": token}, json={"password": "reset-by-admin"})
        assert r.status_code == 200
        assert not logged_in(user)
        login(user, world.users["secretary"], "reset-by-admin")
        assert admin.patch(f"/api/v1/users/{user_id}", headers={"X-CSRF-Token": token},
                           json={"active": False}).status_code == 200
        assert admin.patch(f"/api/v1/users/{user_id}", headers={"X-CSRF-Token": token},
                           json={"active": True}).status_code == 200
        assert not logged_in(user), "a reactivated account logs in afresh"


def test_log_out_everywhere_else(app, world) -> None:
    email = world.users["admin"]
    with TestClient(app) as here, TestClient(app) as lost_laptop:
        token = login(here, email)
        login(lost_laptop, email)
        page = here.get("/account").text
        assert page.count('action="/account/sessions/revoke"') == 1 and page.count('action="/account/password"') == 1
        assert "<section" not in page.split("</title>")[0], "the forms belong to the page body, not its title"
        assert here.post("/account/sessions/revoke", data={"csrf_token": token},
                         follow_redirects=False).status_code == 303
        assert logged_in(here) and not logged_in(lost_laptop)


def test_a_cookie_from_before_revocation_existed_is_refused(app, world, db_settings) -> None:
    """Cookies without a session id (issued by earlier versions) cannot be revoked, so they no longer count."""
    codec = SessionCodec(load_secret(db_settings))
    with session_scope(db_settings) as db:
        user_id = repo.get_user(db, world.users["admin"]).id
    old = codec._serializer.dumps({"u": user_id, "c": "x" * 43, "i": codec.clock(), "a": codec.clock()})
    with TestClient(app) as c:
        c.cookies.set(COOKIE, old)
        assert not logged_in(c)


# --- throttling -------------------------------------------------------------------------------------------------

def test_backoff_doubles_from_30_seconds_up_to_15_minutes() -> None:
    waits = [backoff_s(n, ACCOUNT_FREE) for n in range(ACCOUNT_FREE + 7)]
    assert waits[:ACCOUNT_FREE] == [0] * ACCOUNT_FREE
    assert waits[ACCOUNT_FREE:] == [30, 60, 120, 240, 480, 900, 900]
    assert max(waits) == MAX_WAIT_S


@pytest.mark.slow
def test_one_account_is_throttled_whatever_address_the_guesses_come_from(app, world, clock) -> None:
    email = world.users["secretary"]
    for i in range(ACCOUNT_FREE):
        with TestClient(app, client=(f"203.0.113.{i}", 5000)) as c:
            assert try_login(c, email, f"guess-{i}-xx").status_code == 401
    with TestClient(app, client=("198.51.100.7", 5000)) as c:
        r = try_login(c, email, PASSWORD)  # even the right password is not checked during the wait
        assert r.status_code == 429 and r.headers["Retry-After"] == "30"
        assert "Zu viele falsche Passwörter für dieses Konto" in r.text or "for this account" in r.text
        assert "30" in r.text
        assert not logged_in(c)
        assert try_login(c, world.users["admin"], PASSWORD).status_code == 303, "other accounts are not affected"
        clock.now += timedelta(seconds=31)
        assert try_login(c, email, "guess-again-x").status_code == 401
        r = try_login(c, email, PASSWORD)
        assert r.status_code == 429 and r.headers["Retry-After"] == "60", "the wait doubles"
        clock.now += timedelta(seconds=61)
        assert try_login(c, email, PASSWORD).status_code == 303
    with TestClient(app, client=("203.0.113.0", 5000)) as c:
        assert try_login(c, email, "wrong-again").status_code == 401, "a success clears the account's count"


@pytest.mark.slow
def test_one_address_is_throttled_whatever_accounts_it_tries(app, world, clock, db_settings) -> None:
    with session_scope(db_settings) as db:
        for i in range(ADDRESS_FREE):
            repo.create_user(db, f"staff{i}@example.com", PASSWORD, "secretary")
    with TestClient(app, client=("192.0.2.50", 4000)) as sprayer:
        for i in range(ADDRESS_FREE):
            assert try_login(sprayer, f"staff{i}@example.com", "Sommer2026!").status_code == 401
        r = try_login(sprayer, world.users["admin"], PASSWORD)
        assert r.status_code == 429 and r.headers["Retry-After"] == "30"
        assert "von dieser Adresse" in r.text or "from this address" in r.text
    with TestClient(app, client=("192.0.2.51", 4000)) as colleague:
        assert try_login(colleague, world.users["admin"], PASSWORD).status_code == 303


@pytest.mark.slow
def test_failures_are_shared_by_every_worker_on_the_database(db_settings, world, clock) -> None:
    worker_a, worker_b = new_app(db_settings, clock), new_app(db_settings, clock)
    email = world.users["company_user"]
    with TestClient(worker_a) as a, TestClient(worker_b) as b:
        for i in range(ACCOUNT_FREE):
            assert try_login(a if i % 2 else b, email, f"guess-{i}-xx").status_code == 401
        assert try_login(b, email, PASSWORD).status_code == 429
        assert try_login(a, email, PASSWORD).status_code == 429


@pytest.mark.slow
def test_old_failures_fall_out_of_the_window(app, world, clock, db_settings) -> None:
    email = world.users["secretary"]
    with TestClient(app) as c:
        for i in range(ACCOUNT_FREE):
            try_login(c, email, f"guess-{i}-xx")
        clock.now += timedelta(minutes=16)
        try_login(c, email, "one-more-wrong")  # records, and prunes what is past the window
        assert try_login(c, email, PASSWORD).status_code == 303
    from sqlalchemy import func, select

    from bot.store.models import LoginFailure

    with session_scope(db_settings) as db:
        left = db.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.key == f"account:{email}"))
        assert left == 0


def test_over_long_login_fields_are_refused_before_hashing(app, world) -> None:
    with TestClient(app) as c:
        r = try_login(c, world.users["admin"], "p" * 200_000)
        assert r.status_code == 422 and ("zu lang" in r.text or "too long" in r.text)
        r = try_login(c, "a" * 400 + "@example.com", PASSWORD)
        assert r.status_code == 422
