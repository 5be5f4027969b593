"""Failed logins, counted per key (``account:<e-mail>``, ``ip:<address>``) over a window, for the login throttle.

The policy (how many, how long to wait) is the web layer's (:mod:`bot.web.ratelimit`); this module only keeps the
facts, in the shared database so that every worker process counts the same failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.store.models import LoginFailure, utcnow

KEY_MAX = 400


@dataclass(frozen=True)
class FailureCount:
    """How many failures ``key`` had since the window began, and when the last one was."""

    count: int
    last: datetime | None


def _key(key: str) -> str:
    return key[:KEY_MAX]


def record(session: Session, keys: list[str], now: datetime | None = None, commit: bool = True) -> None:
    at = now or utcnow()
    session.add_all([LoginFailure(key=_key(k), at=at) for k in keys])
    if commit:
        session.commit()


def count_since(session: Session, key: str, since: datetime) -> FailureCount:
    count, last = session.execute(
        select(func.count(LoginFailure.id), func.max(LoginFailure.at))
        .where(LoginFailure.key == _key(key), LoginFailure.at > since)).one()
    if isinstance(last, str):  # SQLite's max() bypasses the column type
        last = datetime.fromisoformat(last)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return FailureCount(int(count), last)


def clear(session: Session, key: str, commit: bool = True) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key == _key(key)))
    if commit:
        session.commit()


def prune(session: Session, before: datetime, commit: bool = True) -> int:
    """Forget failures older than the window (they no longer count); returns how many rows went."""
    result = session.execute(delete(LoginFailure).where(LoginFailure.at <= before))
    if commit:
        session.commit()
    return int(result.rowcount or 0)
