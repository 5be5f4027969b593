"""The store behind the carriers' interfaces: companies by dialled number, and call outcomes only carriers know.

Imports ``bot.store`` lazily, so the telephony package loads (and its tests run) without a database. The pipeline
writes the transcript and per-turn latencies into the same call row, found by ``call_sid``; this adapter opens the
row when the stream starts and closes it from Twilio's transfer result and status callback. The stream claims live
in the same database, so that every worker process refuses a second stream for a call.
"""

from __future__ import annotations

import logging

from bot.brain.profile import CompanyProfile
from bot.runtime.carrier_services import CallInfo
from bot.settings import Settings
from bot.store.calls import call_by_sid, finish_call, start_call
from bot.store.companies import company_for_number, company_profile, get_company, list_companies
from bot.store.db import session_scope
from bot.store.stream_claims import claim_state, claim_stream, end_call, release_stream, screen, screening

log = logging.getLogger(__name__)


class StoreResolver:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _with(self, fn):
        with session_scope(self._settings) as session:
            return fn(session)

    def for_number(self, number: str) -> CompanyProfile | None:
        return self._with(lambda s: (lambda c: company_profile(c) if c else None)(company_for_number(s, number)))

    def for_slug(self, slug: str) -> CompanyProfile | None:
        return self._with(lambda s: (lambda c: company_profile(c) if c else None)(get_company(s, slug)))

    def companies(self) -> list[CompanyProfile]:
        profiles = self._with(lambda s: [company_profile(c) for c in list_companies(s)])
        return sorted(profiles, key=lambda p: p.name.lower())


class StoreRecorder:
    """Call rows keyed by call id (Twilio CallSid / browser peer id) in the ``call_sid`` column."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def call_started(self, call: CallInfo) -> None:
        with session_scope(self._settings) as session:
            if call_by_sid(session, call.call_id) is None:
                start_call(session, call.company, channel=call.channel, call_sid=call.call_id,
                           caller_number=call.caller)

    def _finish(self, call_id: str, outcome: str, *, transferred_to: str | None = None,
                only_if_open: bool = False) -> None:

        with session_scope(self._settings) as session:
            row = call_by_sid(session, call_id)
            if row is None:
                log.warning("no call record for %s; outcome %s not stored", call_id, outcome)
                return
            if only_if_open and row.outcome is not None:
                return
            finish_call(session, row.id, outcome, transferred_to=transferred_to)

    def call_transferred(self, call_id: str, number: str) -> None:
        self._finish(call_id, "transferred", transferred_to=number or None)

    def transfer_failed(self, call_id: str, reason: str) -> None:
        log.info("call %s: transfer failed (%s); the bot takes a message", call_id, reason)

    def call_ended(self, call_id: str, status: str, duration_s: int | None) -> None:
        # "completed" = the bot talked with the caller (the store upgrades it to "message" when one was saved);
        # busy / no-answer / canceled / failed = the caller never got through.
        self._finish(call_id, "answered" if status == "completed" else "abandoned", only_if_open=True)


class StoreStreamClaims:
    """Stream claims in the shared database (``stream_claims``), so the rule holds across worker processes."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def claim(self, call_sid: str, *, resume: bool = False) -> bool:

        with session_scope(self._settings) as session:
            return claim_stream(session, call_sid, resume=resume)

    def release(self, call_sid: str, *, transferring: bool) -> None:

        with session_scope(self._settings) as session:
            release_stream(session, call_sid, transferring=transferring)

    def call_ended(self, call_sid: str) -> None:

        with session_scope(self._settings) as session:
            end_call(session, call_sid)

    def screen(self, call_sid: str, decision: str) -> bool:
        with session_scope(self._settings) as session:
            return screen(session, call_sid, decision)

    def screening(self, call_sid: str) -> str | None:
        with session_scope(self._settings) as session:
            return screening(session, call_sid)

    def state(self, call_sid: str) -> str | None:
        with session_scope(self._settings) as session:
            return claim_state(session, call_sid)
