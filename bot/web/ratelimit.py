"""Login throttling: exponential backoff per account and per client address, shared by every worker.

Two counts are kept (in the database, :mod:`bot.store.login_failures`) over a 15-minute window:
- per **account** (the e-mail typed): after :data:`ACCOUNT_FREE` failures each further try must wait 30 s, then
  1, 2, 4, 8 min, at most :data:`MAX_WAIT_S`; this stops guessing one account's password from many addresses;
- per **client address**: after :data:`ADDRESS_FREE` failures (any accounts) the same backoff; this stops trying one
  common password against many accounts from one address.
While a wait runs the password is not even checked, so a guess inside it learns nothing. A successful login clears
the account's count (not the address's: one valid account must not reset an attacker's address count).
The price of a per-account count is that someone can make a real user wait up to :data:`MAX_WAIT_S`; they cannot
lock the account for longer, and API keys keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.store import login_failures
from bot.store.models import utcnow

WINDOW_S = 15 * 60
ACCOUNT_FREE = 5
ADDRESS_FREE = 20
FIRST_WAIT_S = 30
MAX_WAIT_S = 15 * 60


@dataclass(frozen=True)
class Wait:
    """How long the client must wait before the next try, and why (``account`` or ``address``)."""

    seconds: int
    reason: str


def backoff_s(failures: int, free: int) -> int:
    """The wait after ``failures`` failures when ``free`` are allowed: 0, then 30 s doubling up to 15 min."""
    if failures < free:
        return 0
    return min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (failures - free))


class LoginThrottle:
    """The throttle's policy over the stored failures; ``clock`` is injectable so tests need not wait."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, account_free: int = ACCOUNT_FREE,
                 address_free: int = ADDRESS_FREE) -> None:
        self.clock, self.account_free, self.address_free = clock, account_free, address_free

    @staticmethod
    def keys(email: str, address: str) -> tuple[str, str]:
        return f"account:{email.strip().lower()}", f"ip:{address}"

    def wait(self, db: Session, email: str, address: str) -> Wait | None:
        """The wait still to run for this account or address, or None when a try is allowed now."""
        now = self.clock()
        since = now - timedelta(seconds=WINDOW_S)
        longest: Wait | None = None
        for key, free, reason in zip(self.keys(email, address), (self.account_free, self.address_free),
                                     ("account", "address")):
            counted = login_failures.count_since(db, key, since)
            if counted.last is None:
                continue
            left = backoff_s(counted.count, free) - (now - counted.last).total_seconds()
            if left > 0 and (longest is None or left > longest.seconds):
                longest = Wait(max(1, int(left + 0.999)), reason)
        return longest

    def failed(self, db: Session, email: str, address: str) -> None:
        now = self.clock()
        login_failures.prune(db, now - timedelta(seconds=WINDOW_S), commit=False)
        login_failures.record(db, list(self.keys(email, address)), now=now)

    def succeeded(self, db: Session, email: str) -> None:
        login_failures.clear(db, self.keys(email, "")[0])
