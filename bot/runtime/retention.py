"""Background jobs the web app runs while it is up: the notification outbox and the daily retention purge."""

from __future__ import annotations

import asyncio
import logging

from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.privacy import PurgeReport, purge_expired
from bot.store.spool import spool_dir

log = logging.getLogger(__name__)
RETENTION_INTERVAL_S = 24 * 3600


def purge_once(settings: Settings) -> PurgeReport:
    with session_scope(settings) as session:
        return purge_expired(session, spool_directory=spool_dir(settings))


async def retention_loop(settings: Settings, stop: asyncio.Event, interval_s: float = RETENTION_INTERVAL_S) -> None:
    """Purge at start, then once a day, until ``stop`` is set (a failed run is retried at the next interval)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(purge_once, settings)
        except Exception:
            log.exception("retention purge failed; next try in %d s", int(interval_s))
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except asyncio.TimeoutError:
            pass
