"""CallRecorder: one call's record written as the call goes, for carriers that run in asyncio (the pipeline).

Each write is its own short transaction in a fresh session, committed before the method returns, so the record up
to the last turn survives a crash. The async variants run the writes on ONE worker thread per call: the event loop
never waits on the disk, and writes land in the order they were issued (turn numbers follow speech order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import calls, messages
from bot.store.db import session_factory

T = TypeVar("T")


class CallRecorder:
    def __init__(self, settings: Settings, company_slug: str, *, channel: str, call_sid: str | None = None,
                 caller_number: str | None = None, language: str | None = None) -> None:
        self._sessions = session_factory(settings)
        self.company_slug = company_slug
        self.channel, self.call_sid, self.caller_number, self.language = channel, call_sid, caller_number, language
        self.call_id: int | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"call-record-{company_slug}")

    def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._sessions() as session:
            return fn(session, *args, **kwargs)

    def _need_call(self) -> int:
        if self.call_id is None:
            raise RuntimeError("CallRecorder.start() must run before anything else is recorded")
        return self.call_id

    # --- synchronous API ---------------------------------------------------------------------------------------
    def start(self, started_at: datetime | None = None) -> int:
        call = self._write(calls.start_call, self.company_slug, channel=self.channel, call_sid=self.call_sid,
                           caller_number=self.caller_number, language=self.language, started_at=started_at)
        self.call_id = call.id
        return call.id

    def turn(self, speaker: str, text: str, *, latency: Mapping[str, float] | None = None, **fields: Any) -> int:
        """Add a transcript turn (fields as :func:`bot.store.calls.add_turn`); returns the turn's id."""
        return self._write(calls.add_turn, self._need_call(), speaker, text, latency=latency, **fields).id

    def turn_latency(self, turn_id: int, **latency_ms: float) -> None:
        self._write(calls.update_turn_latency, turn_id, **latency_ms)

    def save_message(self, message: CallMessage) -> int:
        """Commit the caller's message (and its notifications); returns its id only once it is durable."""
        return self._write(messages.save_message, self.company_slug, message, self._need_call()).id

    def faq_gap(self, question: str, language: str | None = None) -> None:
        self._write(calls.record_faq_gap, self.company_slug, question, language, self._need_call())

    def recording_objected(self) -> None:
        """The caller objected to the recording (the transcript is deleted when the call is finished)."""
        self._write(calls.mark_recording_objected, self._need_call())

    def finish(self, outcome: str, *, transferred_to: str | None = None, summary: str | None = None) -> None:
        self._write(calls.finish_call, self._need_call(), outcome, transferred_to=transferred_to, summary=summary)

    # --- asyncio API: same operations, in order, off the event loop --------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def astart(self, started_at: datetime | None = None) -> int:
        return await self._run(self.start, started_at)

    async def aturn(self, speaker: str, text: str, **fields: Any) -> int:
        return await self._run(self.turn, speaker, text, **fields)

    async def aturn_latency(self, turn_id: int, **latency_ms: float) -> None:
        await self._run(self.turn_latency, turn_id, **latency_ms)

    async def asave_message(self, message: CallMessage) -> int:
        return await self._run(self.save_message, message)

    async def afaq_gap(self, question: str, language: str | None = None) -> None:
        await self._run(self.faq_gap, question, language)

    async def afinish(self, outcome: str, **fields: Any) -> None:
        try:
            await self._run(self.finish, outcome, **fields)
        finally:
            self.close()

    def close(self) -> None:
        """Release the worker thread (after finish; pending writes complete first)."""
        self._executor.shutdown(wait=True)
