"""Stream claims as the Twilio carrier sees them: may this ``start`` open a bot session for its CallSid?

The rule (see :mod:`bot.store.stream_claims` for the database version every worker process shares): a call's first
stream claims the CallSid once; while it runs, and after the call is over, every other ``start`` for that CallSid
is refused. Only the stream that returns the caller after an unanswered transfer may follow, once per transfer.
:class:`MemoryStreamClaims` applies the same rule inside one process (tests, an app without a store).
"""

from __future__ import annotations

import threading
from typing import Protocol


class StreamClaims(Protocol):
    def claim(self, call_sid: str, *, resume: bool = False) -> bool: ...

    def release(self, call_sid: str, *, transferring: bool) -> None: ...

    def call_ended(self, call_sid: str) -> None: ...

    def screen(self, call_sid: str, decision: str) -> bool:
        """Warm transfer: the secretary's first answer to the briefing ("accepted" / "declined")."""
        ...

    def screening(self, call_sid: str) -> str | None: ...

    def state(self, call_sid: str) -> str | None:
        """``streaming`` / ``transferring`` / ``ended``, or None for a call never seen."""
        ...


class MemoryStreamClaims:
    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._screenings: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, call_sid: str, *, resume: bool = False) -> bool:
        with self._lock:
            state = self._states.get(call_sid)
            if (state is None and not resume) or (state == "transferring" and resume):
                self._states[call_sid] = "streaming"
                return True
            return False

    def release(self, call_sid: str, *, transferring: bool) -> None:
        with self._lock:
            if self._states.get(call_sid) == "streaming":
                self._states[call_sid] = "transferring" if transferring else "ended"
                if transferring:
                    self._screenings.pop(call_sid, None)

    def call_ended(self, call_sid: str) -> None:
        with self._lock:
            self._states[call_sid] = "ended"

    def screen(self, call_sid: str, decision: str) -> bool:
        with self._lock:
            if self._states.get(call_sid) != "transferring" or call_sid in self._screenings:
                return False
            self._screenings[call_sid] = decision
            return True

    def screening(self, call_sid: str) -> str | None:
        with self._lock:
            return self._screenings.get(call_sid)

    def state(self, call_sid: str) -> str | None:
        with self._lock:
            return self._states.get(call_sid)
