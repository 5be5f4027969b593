"""Users (agency admin, company user, secretary), login, API keys, and which companies a user may see."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from bot.store import validate
from bot.store.companies import NotFound, resolve
from bot.store.models import ROLES, ApiKey, Company, RevokedSession, User, utcnow
from bot.store.passwords import hash_api_key, hash_password, needs_rehash, new_api_key, verify_password

# Verified against when the e-mail is unknown, so that a login attempt takes as long for unknown as for known users.
@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


def get_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower())
                          .options(selectinload(User.companies)))


def create_user(session: Session, email: str, password: str, role: str, *, companies: Iterable[Company | str] = (),
                name: str | None = None, commit: bool = True) -> User:
    """A new user; company users and secretaries are linked to the companies they work for."""
    email_clean = validate.email(email)
    if not email_clean:
        raise validate.InvalidInput("an e-mail address is needed to log in")
    if role not in ROLES:
        raise validate.InvalidInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if get_user(session, email_clean) is not None:
        raise validate.InvalidInput(f"a user with e-mail {email_clean} exists already")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise validate.InvalidInput(str(exc)) from None
    user = User(email=email_clean.lower(), password_hash=password_hash, role=role, name=name, active=True,
                companies=[resolve(session, c) for c in companies])
    session.add(user)
    if commit:
        session.commit()
    return user


def set_password(session: Session, user: User, password: str, commit: bool = True) -> None:
    """A new password; every session cookie issued before it stops working (a changed password must lock out
    whoever knew the old one, also in a browser that is still logged in)."""
    try:
        user.password_hash = hash_password(password)
    except ValueError as exc:
        raise validate.InvalidInput(str(exc)) from None
    revoke_sessions(session, user, commit=commit)


def revoke_sessions(session: Session, user: User, commit: bool = True) -> None:
    """End every session of ``user`` (logout, password change, deactivation); API keys are not touched."""
    user.session_generation = (user.session_generation or 0) + 1
    if commit:
        session.commit()


def check_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's current one (the password-change form asks for it)."""
    return verify_password(user.password_hash, password)


def authenticate(session: Session, email: str, password: str, now: datetime | None = None) -> User | None:
    """The active user with these credentials, or None. Upgrades an outdated hash on success."""
    user = get_user(session, email)
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now or utcnow()
    session.commit()
    return user


def visible_company_ids(user: User) -> list[int] | None:
    """Ids of the companies ``user`` may see; None means all (agency admin)."""
    if user.role == "admin":
        return None
    return [c.id for c in user.companies]


def can_access(user: User, company: Company) -> bool:
    ids = visible_company_ids(user)
    return ids is None or company.id in ids


def create_api_key(session: Session, user: User, name: str, commit: bool = True) -> tuple[ApiKey, str]:
    """A new API key for ``user``; the plain key is returned once and only its hash is stored."""
    key = new_api_key()
    row = ApiKey(user_id=user.id, name=validate.text(name, "key name", 200, required=True) or "",
                 prefix=key[:10], key_hash=hash_api_key(key))
    session.add(row)
    if commit:
        session.commit()
    return row, key


def user_for_api_key(session: Session, key: str, now: datetime | None = None) -> User | None:
    """The active owner of an unrevoked API key, or None."""
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key.strip()),
                                              ApiKey.revoked_at.is_(None)))
    if row is None or not row.user.active:
        return None
    row.last_used_at = now or utcnow()
    session.commit()
    return row.user


def revoke_api_key(session: Session, key_id: int, now: datetime | None = None) -> None:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key with id {key_id}")
    row.revoked_at = now or utcnow()
    session.commit()


def revoke_session(session: Session, session_id: str, expires_at: datetime, commit: bool = True) -> None:
    """Refuse one session's cookie from now on (logout); rows past their expiry are dropped on the way."""
    session.execute(delete(RevokedSession).where(RevokedSession.expires_at <= utcnow()))
    if session.get(RevokedSession, session_id) is None:
        session.add(RevokedSession(session_id=session_id, expires_at=expires_at))
    if commit:
        session.commit()


def session_revoked(session: Session, session_id: str) -> bool:
    return session.get(RevokedSession, session_id) is not None
