"""What the telephony and browser-call routes need from the rest of the product, as small injectable interfaces.

The routes never import the brain, the pipeline or the store directly: ``create_app`` (or a test) puts a
:class:`CallServices` on ``app.state.call_services``. That keeps each carrier testable with real protocol traffic
while the pieces it carries are swapped (a scripted responder in tests, the real brain in production).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.brain.profile import CompanyProfile
from bot.brain.types import BotTurn, CallerInput
from bot.runtime.claims import MemoryStreamClaims, StreamClaims
from bot.runtime.resolver import CompanyResolver, demo_resolver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallInfo:
    """One call as the carrier knows it (what the recorder and the pipeline builder are told)."""

    call_id: str  # Twilio CallSid, SIP Call-ID, or the browser peer connection's id
    channel: Literal["twilio", "browser", "sip"]
    company: str  # slug
    caller: str | None = None  # caller's number (E.164) when the network tells it
    called: str | None = None  # the dialled number


class Responder(Protocol):
    """The brain as a carrier sees it: one call's dialogue, fed events, answering turns."""

    async def respond(self, event: CallerInput) -> BotTurn: ...


@dataclass(frozen=True)
class CarrierHooks:
    """What the carrier offers the pipeline for this call.

    ``transfer`` fits the voice pipeline's ``CallActions.transfer``: call it after the bot's announcement has been
    sent; it returns None once the call is handed over, or a reason ("failed") to feed back as ``transfer_failed``.
    None on carriers without a phone line (browser).
    """

    transfer: Callable[[Any], Awaitable[str | None]] | None = None


ResponderFactory = Callable[[CompanyProfile, CallInfo], Responder]
# (transport, profile, responder, call, hooks) -> pipecat PipelineWorker. Runs in a worker thread: it may load models.
PipelineBuilder = Callable[[Any, CompanyProfile, Responder, CallInfo, CarrierHooks], Any]


class CallRecorder(Protocol):
    """Where call outcomes known only to the carrier go (the store, at merge)."""

    def call_started(self, call: CallInfo) -> None: ...

    def call_transferred(self, call_id: str, number: str) -> None: ...

    def transfer_failed(self, call_id: str, reason: str) -> None: ...

    def call_ended(self, call_id: str, status: str, duration_s: int | None) -> None: ...


class MemoryRecorder:
    """Keeps recorder events in a list (tests, and a default that loses nothing silently: it logs)."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def call_started(self, call: CallInfo) -> None:
        self.events.append(("started", call.call_id, call.company, call.channel))

    def call_transferred(self, call_id: str, number: str) -> None:
        self.events.append(("transferred", call_id, number))

    def transfer_failed(self, call_id: str, reason: str) -> None:
        self.events.append(("transfer_failed", call_id, reason))

    def call_ended(self, call_id: str, status: str, duration_s: int | None) -> None:
        self.events.append(("ended", call_id, status, duration_s))


@dataclass
class LiveCall:
    """State of one phone call that must outlive a single media stream.

    A transfer ends the first stream; when nobody answers, Twilio reconnects the caller on a *new* stream, and the
    brain must continue the same conversation (it knows why the caller wanted a person).
    """

    info: CallInfo
    responder: Responder
    created: float = field(default_factory=time.monotonic)
    pending_transfer: str | None = None  # number the brain asked to transfer to, not yet dialled
    transferring: bool = False  # the REST redirect was sent: the stream's end must not hang up the call
    transferred: bool = False
    transfer_attempts: int = 0
    secretary_call: str | None = None  # warm transfer on Twilio: the call ringing her, ended if the caller hangs up


class CallRegistry:
    """Live calls by call id, expiring after ``ttl_s`` (a call that never sent its final status callback)."""

    def __init__(self, ttl_s: float = 4 * 3600) -> None:
        self._calls: dict[str, LiveCall] = {}
        self._lock = threading.Lock()
        self._ttl_s = ttl_s

    def get(self, call_id: str) -> LiveCall | None:
        with self._lock:
            self._expire()
            return self._calls.get(call_id)

    def add(self, call: LiveCall) -> LiveCall:
        with self._lock:
            self._expire()
            self._calls[call.info.call_id] = call
            return call

    def pop(self, call_id: str) -> LiveCall | None:
        with self._lock:
            return self._calls.pop(call_id, None)

    def __len__(self) -> int:
        return len(self._calls)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self._ttl_s
        for key in [k for k, c in self._calls.items() if c.created < cutoff]:
            del self._calls[key]


@dataclass
class CallServices:
    """Everything a carrier needs; ``new_responder`` and ``build_pipeline`` are wired by ``create_app`` at merge."""

    resolver: CompanyResolver
    new_responder: ResponderFactory | None = None
    build_pipeline: PipelineBuilder | None = None
    recorder: CallRecorder = field(default_factory=MemoryRecorder)
    registry: CallRegistry = field(default_factory=CallRegistry)
    # Which CallSids have had their stream (one bot session per call); the store's version is shared by workers.
    claims: StreamClaims = field(default_factory=MemoryStreamClaims)
    dial_timeout_s: int = 20  # seconds the secretary's phone rings before the caller returns to the bot
    mark_timeout_s: float = 15.0  # longest wait for the caller to have heard "I'll connect you" before dialling
    # True: the carrier takes Transfer actions out of the brain's turns and runs them itself (pipelines without a
    # transfer hook, e.g. the test harness). False: the pipeline runs them through ``CarrierHooks.transfer``.
    carrier_runs_transfer: bool = True
    max_browser_calls: int = 4  # each call runs recognition and synthesis on this machine's CPU
    # Which companies the public /call page offers. None = every company the resolver knows (fine for the demo
    # files); with the store, restrict it (demo companies, or the logged-in user's) so the page lists no customers.
    browser_companies: Callable[[], list[CompanyProfile]] | None = None

    def callable_companies(self) -> list[CompanyProfile]:
        return self.browser_companies() if self.browser_companies is not None else self.resolver.companies()

    @property
    def ready(self) -> bool:
        return self.new_responder is not None and self.build_pipeline is not None


def default_services() -> CallServices:
    """Demo companies, no brain/pipeline yet: calls get a polite 'not available' until they are wired in."""
    return CallServices(resolver=demo_resolver())


def get_services(app: Any) -> CallServices:
    services = getattr(app.state, "call_services", None)
    if services is None:
        services = default_services()
        app.state.call_services = services
    return services
