"""Start the SIP carrier: the user agent, and the registration when a registrar is configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.runtime.carrier_services import CallServices
from bot.settings import Settings
from bot.telephony.sip.register import Registration
from bot.telephony.sip.ua import SipUserAgent

log = logging.getLogger(__name__)


class SipService:
    def __init__(self, ua: SipUserAgent, registration: Registration | None) -> None:
        self.ua = ua
        self.registration = registration
        self._task: asyncio.Task | None = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.registration is not None:
            with contextlib.suppress(Exception):
                await self.registration.unregister()
        await self.ua.stop()


async def start_sip(settings: Settings, services: CallServices) -> SipService:
    ua = SipUserAgent(settings, services)
    await ua.start()
    registration = Registration(settings, ua) if settings.sip_registrar else None
    service = SipService(ua, registration)
    if registration is not None:
        service._task = asyncio.create_task(registration.keep_registered())
    return service
