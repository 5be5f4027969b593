"""Whether this server is ready for calls: every model loaded and warmed, every company's greeting synthesised.

`receptionist serve` accepts HTTP at once (health checks, the web app) but a call that arrived before the models
were loaded used to wait seconds, in silence, for its greeting. Now ``/readyz`` answers 503 until the warm-up is
done, and the carriers' call entry points (the Twilio voice webhook, the browser call's offer) wait for it
before they answer: the caller hears the phone ring a little longer instead of silence after pick-up, and the
greeting starts at once.

An app built without a warm-up (tests, scripts) is ready from the start: nothing is pending.
"""

from __future__ import annotations

import asyncio
import threading
import time

# Twilio waits 15 s for a webhook's answer; stay below it and take the call cold rather than lose it.
CALL_WAIT_S = 12.0


class Readiness:
    """A set of named pending steps; ready once all are done (thread-safe: the warm-up runs in a thread)."""

    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._ready.set()
        self.started = time.monotonic()
        self.ready_after_s: float | None = 0.0

    def expect(self, *steps: str) -> None:
        with self._lock:
            self._pending.update(steps)
            if self._pending:
                self._ready.clear()
                self.ready_after_s = None

    def done(self, step: str) -> None:
        with self._lock:
            self._pending.discard(step)
            if not self._pending and not self._ready.is_set():
                self.ready_after_s = round(time.monotonic() - self.started, 3)
                self._ready.set()

    def failed(self, step: str, reason: str) -> None:
        """A step that cannot finish (a missing model): calls are taken anyway, /readyz says what is wrong."""
        with self._lock:
            self._failed[step] = reason
        self.done(step)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def status(self) -> dict:
        with self._lock:
            return {"ready": self._ready.is_set(), "pending": sorted(self._pending), "failed": dict(self._failed),
                    "ready_after_s": self.ready_after_s}

    async def wait(self, timeout_s: float = CALL_WAIT_S) -> bool:
        """Wait (without blocking the event loop) until ready or ``timeout_s``; returns whether it is ready."""
        if self._ready.is_set():
            return True
        return await asyncio.to_thread(self._ready.wait, timeout_s)
