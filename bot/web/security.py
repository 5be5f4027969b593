"""Who is asking: signed session cookies (with idle expiry and a CSRF token), API keys, and role checks.

The session lives in a signed cookie (itsdangerous, keyed by ``Settings.secret_key`` or a key generated once into
the data dir), so several worker processes share logins without a table of live sessions. The cookie carries a
random session id, the user id, the user's session generation, a per-session CSRF token and the time of the last
activity; a session idle for longer than :data:`IDLE_S` is refused, and every cookie dies :data:`ABSOLUTE_S` after
login whatever happens. Because a signed cookie cannot be recalled, the server also refuses it when
- its session was logged out (the session id is listed in ``revoked_sessions`` until the cookie would expire), or
- the user's ``session_generation`` moved on since it was issued (password change, deactivation, "log out
  everywhere").

Every state-changing request made with a session cookie must repeat the CSRF token (hidden form field
``csrf_token`` or header ``X-CSRF-Token``); requests with ``Authorization: Bearer <api key>`` carry no ambient
credentials and are exempt.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from bot.brain.company_fields import COMPANY_FIELDS, CompanyField
from bot.settings import Settings
from bot.store import repo
from bot.store.models import Company, User

COOKIE = "rs_session"
IDLE_S = 8 * 3600  # a receptionist's shift; after that, log in again
ABSOLUTE_S = 7 * 24 * 3600
REFRESH_S = 60  # re-issue the cookie (sliding idle window) at most once a minute
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_FILE = "secret-key"


def load_secret(settings: Settings) -> str:
    """``Settings.secret_key``, or a random key generated once into ``DATA_DIR/secret-key`` (owner-readable only)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.resolved_data_dir / SECRET_FILE
    if not path.is_file():
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600) if not path.exists() else None
        if fd is not None:
            with os.fdopen(fd, "w") as fh:
                fh.write(key + "\n")
    return path.read_text(encoding="utf-8").strip()


@dataclass
class SessionData:
    user_id: int | None
    csrf: str
    issued: float
    active: float  # last activity
    session_id: str = ""
    generation: int = 0  # the user's session_generation when the session began

    def to_dict(self) -> dict[str, Any]:
        return {"u": self.user_id, "c": self.csrf, "i": self.issued, "a": self.active, "s": self.session_id,
                "g": self.generation}


class SessionCodec:
    """Signs and checks session cookies; ``clock`` is injectable so that expiry is testable without waiting."""

    def __init__(self, secret: str, idle_s: float = IDLE_S, absolute_s: float = ABSOLUTE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._serializer = URLSafeSerializer(secret, salt="receptionist-session")
        self.idle_s, self.absolute_s, self.clock = idle_s, absolute_s, clock

    def new(self, user_id: int | None, generation: int = 0) -> SessionData:
        now = self.clock()
        return SessionData(user_id=user_id, csrf=secrets.token_urlsafe(32), issued=now, active=now,
                           session_id=secrets.token_urlsafe(24), generation=generation)

    def encode(self, data: SessionData) -> str:
        return self._serializer.dumps(data.to_dict())

    def decode(self, cookie: str | None) -> SessionData | None:
        """The session in a cookie, or None when it is missing, forged, idle too long or too old."""
        if not cookie:
            return None
        try:
            raw = self._serializer.loads(cookie)
            data = SessionData(user_id=raw.get("u"), csrf=str(raw["c"]), issued=float(raw["i"]),
                               active=float(raw["a"]), session_id=str(raw["s"]), generation=int(raw["g"]))
        except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
            return None
        now = self.clock()
        if now - data.active > self.idle_s or now - data.issued > self.absolute_s:
            return None
        return data


def codec(request: Request) -> SessionCodec:
    return request.app.state.session_codec


def session_of(request: Request) -> SessionData | None:
    """The request's valid session (anonymous sessions included), decoded once per request."""
    if not hasattr(request.state, "session_data"):
        request.state.session_data = codec(request).decode(request.cookies.get(COOKIE))
    return request.state.session_data


def ensure_session(request: Request) -> SessionData:
    """The request's session, creating an anonymous one (for the login form's CSRF token) when there is none."""
    data = session_of(request)
    if data is None:
        data = codec(request).new(None)
        request.state.session_data = data
        request.state.session_dirty = True
    return data


def start_session(request: Request, user: User) -> None:
    """A fresh session for a user who just logged in (new id and CSRF token: no fixation of a pre-login session)."""
    request.state.session_data = codec(request).new(user.id, user.session_generation or 0)
    request.state.session_dirty = True


def end_session(request: Request, db: Session) -> None:
    """Log this session out: the cookie is cleared and, should a copy of it survive, refused by the server."""
    data = session_of(request)
    if data is not None and data.user_id is not None and data.session_id:
        expires = datetime.fromtimestamp(data.issued + codec(request).absolute_s, tz=timezone.utc)
        repo.revoke_session(db, data.session_id, expires)
    request.state.session_data = None
    request.state.session_clear = True


def is_https(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return request.url.scheme == "https" or bool(settings.public_url and settings.public_url.startswith("https://"))


def write_cookie(request: Request, response: Any) -> None:
    """Set, refresh or clear the session cookie on ``response`` as the request left it (called by middleware)."""
    if getattr(request.state, "session_clear", False):
        response.delete_cookie(COOKIE, path="/")
        return
    data: SessionData | None = getattr(request.state, "session_data", None)
    if data is None:
        return
    c = codec(request)
    now = c.clock()
    if not getattr(request.state, "session_dirty", False) and now - data.active < REFRESH_S:
        return
    data.active = now
    response.set_cookie(COOKIE, c.encode(data), max_age=int(c.idle_s), path="/", httponly=True, samesite="lax",
                        secure=is_https(request))


# --- who is asking --------------------------------------------------------------------------------------------

def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def resolve_user(request: Request, db: Session) -> User | None:
    """The user behind an API key or a session cookie; None when anonymous (or the user was deactivated)."""
    key = bearer_key(request)
    if key is not None:
        user = repo.user_for_api_key(db, key)
        request.state.auth_via = "api_key"
        return user
    data = session_of(request)
    if data is None or data.user_id is None:
        return None
    user = db.get(User, data.user_id)
    if user is None or not user.active or data.generation != (user.session_generation or 0):
        return None
    if repo.session_revoked(db, data.session_id):
        return None
    request.state.auth_via = "session"
    return user


async def check_csrf(request: Request, strict: bool = False) -> None:
    """Refuse a state-changing cookie request whose CSRF token is missing or wrong (403, plain words).

    ``strict`` also checks anonymous sessions (the login form: no logging a victim into an attacker's account).
    """
    if request.method not in UNSAFE_METHODS or bearer_key(request) is not None:
        return
    data = session_of(request)
    if not strict and (data is None or data.user_id is None):
        return  # no ambient credentials to abuse; the route's login check answers 401 or redirects
    sent = request.headers.get("x-csrf-token")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    # bytes: compare_digest refuses str with non-ASCII characters (TypeError, a 500) and a forged token may have them
    if data is None or not sent or not hmac.compare_digest(sent.encode(), data.csrf.encode()):
        raise HTTPException(403, "The security token of this form is missing or out of date. "
                                 "Please reload the page and try again.")


# --- what they may do -----------------------------------------------------------------------------------------

def require_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise HTTPException(403, "Your account is not allowed to do this.")


def require_editable(user: User, changes: dict[str, Any],
                     fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> None:
    """403 when a company user sends a setting the field model reserves for admins (``company_editable``)."""
    if user.role == "admin":
        return
    locked = sorted(f.name for f in fields if not f.company_editable and f.name in changes)
    if locked:
        raise HTTPException(403, f"Only an admin may change {', '.join(locked)}.")


def company_for(db: Session, user: User, slug: str, *, manage: bool = True) -> Company:
    """The company ``slug`` if ``user`` may see it (404 otherwise: other companies' existence is not revealed).

    ``manage``: settings, documents, calls (admin and the company's own users); secretaries only see inboxes.
    """
    company = repo.get_company(db, slug)
    if company is None or not repo.can_access(user, company):
        raise HTTPException(404, f"There is no company {slug!r}.")
    if manage and user.role == "secretary":
        raise HTTPException(403, "Secretaries see the inbox only.")
    return company


def managed_company_ids(user: User) -> list[int] | None:
    """Companies whose settings, FAQ and calls ``user`` may see (None: all); secretaries get none."""
    if user.role == "secretary":
        return []
    return repo.visible_company_ids(user)
