"""Carrying out the brain's Transfer on a live Twilio stream, once the caller has *heard* the announcement.

Two ways in, one path:

* :meth:`TransferController.transfer` fits the voice pipeline's ``CallActions.transfer`` hook (the pipeline calls it
  after the bot's announcement has been sent; it returns ``None`` when the call is handed over, or a reason).
* :meth:`TransferController.arm` is for a pipeline that does not run transfers itself: the
  :class:`~bot.telephony.carrier.CarrierResponder` takes the action out of the turn and arms the controller, which
  watches for the end of the bot's next utterance (it is a pipecat observer).

Either way a ``mark`` goes to Twilio after the announcement; Twilio echoes it once the audio before it has played.
Only then is the call redirected to ``<Dial>``. If the echo never comes, the transfer goes ahead after
``mark_timeout_s``: a caller must never be left waiting in silence.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from pipecat.frames.frames import BotStartedSpeakingFrame, BotStoppedSpeakingFrame, TTSSpeakFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed

from bot.brain.types import CallerInput, Transfer
from bot.runtime.carrier_services import CallServices, LiveCall
from bot.settings import Settings
from bot.telephony.serializer import CallSerializer
from bot.telephony.transfer import TransferError, redirect_to_dial, start_warm_transfer

log = logging.getLogger(__name__)


class TransferController(BaseObserver):
    def __init__(self, *, settings: Settings, services: CallServices, live: LiveCall, serializer: CallSerializer,
                 send_text) -> None:
        super().__init__()
        self._settings = settings
        self._services = services
        self._live = live
        self._serializer = serializer
        self._send_text = send_text  # the stream's websocket send_text
        self._mark_name = ""
        self._mark_heard = asyncio.Event()
        self._armed = False
        self._bot_spoke_after_arming = False
        self._tasks: set[asyncio.Task] = set()
        self.worker = None  # set after the pipeline is built: speaks the apology when an armed redirect fails
        self.responder = None

    # --- shared path ---------------------------------------------------------------------------------------------
    def _prepare(self, number: str) -> None:
        self._live.pending_transfer = number
        self._live.transfer_attempts += 1
        self._mark_name = f"transfer-{self._live.transfer_attempts}"
        self._mark_heard.clear()

    async def on_mark(self, name: str) -> None:
        if name == self._mark_name:
            self._mark_heard.set()

    async def _played_out(self) -> None:
        try:
            await self._send_text(self._serializer.mark_message(self._mark_name))
            await asyncio.wait_for(self._mark_heard.wait(), self._services.mark_timeout_s)
        except asyncio.TimeoutError:
            log.warning("call %s: no mark echo within %.0f s; transferring anyway", self._live.info.call_id,
                        self._services.mark_timeout_s)
        except Exception:  # the socket is gone: the redirect decides whether the call is still there
            log.debug("could not send the transfer mark", exc_info=True)

    async def _redirect(self) -> str | None:
        number = self._live.pending_transfer
        if number is None or self._live.transferring:
            return None
        self._live.transferring = True
        self._serializer.handed_over = True
        call_sid = self._live.info.call_id
        try:
            profile = await asyncio.to_thread(self._services.resolver.for_slug, self._live.info.company)
            if profile and profile.warm_transfer:
                await self._warm(number, profile)
            else:
                await redirect_to_dial(self._settings, call_sid, number, self._live.info.company,
                                       attempt=self._live.transfer_attempts, timeout_s=self._services.dial_timeout_s)
            return None
        except TransferError as exc:
            log.error("call %s: transfer failed before dialling: %s", call_sid, exc)
            self._live.transferring = False
            self._live.pending_transfer = None
            self._serializer.handed_over = False
            self._services.recorder.transfer_failed(call_sid, "failed")
            return "failed"

    async def _warm(self, number: str, profile) -> None:
        """Caller on hold, secretary called. The claim moves to ``transferring`` *before* her call exists: her
        answer (or a fast "failed" callback) may arrive before our stream has even seen Twilio's ``stop``."""
        call_sid = self._live.info.call_id
        await asyncio.to_thread(self._services.claims.release, call_sid, transferring=True)
        try:
            self._live.secretary_call = await start_warm_transfer(
                self._settings, call_sid, number, self._live.info.company,
                from_number=self._live.info.called or (profile.phone_numbers[0] if profile.phone_numbers else ""),
                attempt=self._live.transfer_attempts, timeout_s=self._services.dial_timeout_s)
        except TransferError:
            await asyncio.to_thread(self._services.claims.claim, call_sid, resume=True)  # still our stream
            raise

    # --- the voice pipeline's CallActions.transfer -----------------------------------------------------------------
    async def transfer(self, action: Transfer) -> str | None:
        self._prepare(action.number)
        await self._played_out()
        return await self._redirect()

    # --- armed by CarrierResponder ---------------------------------------------------------------------------------
    async def arm(self, number: str) -> None:
        self._prepare(number)
        self._armed = True
        self._bot_spoke_after_arming = False
        self._spawn(self._fallback())

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_push_frame(self, data: FramePushed) -> None:
        if not self._armed:
            return
        if isinstance(data.frame, BotStartedSpeakingFrame):
            self._bot_spoke_after_arming = True
        elif isinstance(data.frame, BotStoppedSpeakingFrame) and self._bot_spoke_after_arming:
            self._armed = False  # one transfer per announcement (the frame travels in both directions)
            self._spawn(self._armed_transfer())

    async def _fallback(self) -> None:
        """The announcement never started (empty text, TTS failure): transfer anyway after the timeout."""
        await asyncio.sleep(self._services.mark_timeout_s)
        if self._armed:
            self._armed = False
            await self._armed_transfer()

    async def _armed_transfer(self) -> None:
        await self._played_out()
        if await self._redirect() is not None:
            await self._speak_failure()

    async def _speak_failure(self) -> None:
        """The line stays with the bot: the brain apologises and continues (it will take a message)."""
        if self.responder is None or self.worker is None:
            return
        turn = await self.responder.respond(
            CallerInput(kind="transfer_failed", at=datetime.now(timezone.utc), reason="failed"))
        if turn.say:
            await self.worker.queue_frame(TTSSpeakFrame(turn.say))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
