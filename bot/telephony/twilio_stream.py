"""The ``/twilio/stream`` websocket: one Twilio Media Stream = one pipeline run for one call.

Twilio's protocol (https://www.twilio.com/docs/voice/media-streams/websocket-messages): ``connected``, then
``start`` (streamSid, callSid, customParameters), then ``media`` (base64 8 kHz µ-law), ``dtmf``, ``mark`` and
finally ``stop``. We read up to ``start`` ourselves, check the call token our signed ``/twilio/voice`` answer put in
the parameters (an unsigned websocket cannot start a pipeline), then hand the socket to pipecat's websocket
transport with :class:`~bot.telephony.serializer.CallSerializer`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone

from fastapi import WebSocket
from pipecat.frames.frames import BotStartedSpeakingFrame, BotStoppedSpeakingFrame, TTSSpeakFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

from bot.brain.types import CallerInput
from bot.settings import Settings
from bot.telephony.carrier import CarrierResponder
from bot.telephony.masking import mask_number
from bot.telephony.serializer import CallSerializer
from bot.telephony.services import CallInfo, CallServices, LiveCall
from bot.telephony.transfer import TransferError, redirect_to_dial

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
POLICY_VIOLATION = 1008


def call_token(secret: str, call_sid: str, company: str) -> str:
    """Proof that a stream's parameters came from our own signed TwiML answer for this call and company."""
    return hmac.new(secret.encode(), f"{call_sid}\n{company}".encode(), hashlib.sha256).hexdigest()[:32]


def token_ok(settings: Settings, call_sid: str, company: str, token: str) -> bool:
    if not settings.twilio_auth_token or not token:
        return False
    return hmac.compare_digest(call_token(settings.twilio_auth_token, call_sid, company), token)


async def read_start(websocket: WebSocket, timeout_s: float = START_TIMEOUT_S) -> dict | None:
    """Skip ``connected``; return the ``start`` message, or None when the peer says anything else first."""
    async def _read() -> dict | None:
        while True:
            message = json.loads(await websocket.receive_text())
            event = message.get("event")
            if event == "connected":
                continue
            return message if event == "start" else None
    try:
        return await asyncio.wait_for(_read(), timeout_s)
    except (asyncio.TimeoutError, ValueError, RuntimeError):
        return None
    except Exception:  # WebSocketDisconnect and friends
        return None


class TransferController(BaseObserver):
    """Carries out a transfer once the caller has heard the bot's announcement.

    Armed by the brain's Transfer action; after the bot's next utterance has been sent, a ``mark`` goes to Twilio;
    when Twilio echoes it (= played to the caller) the call is redirected to ``<Dial>``. If the mark never comes
    back, the transfer happens after ``mark_timeout_s`` anyway: a caller must never be left waiting.
    """

    def __init__(self, *, settings: Settings, services: CallServices, live: LiveCall, serializer: CallSerializer,
                 websocket: WebSocket) -> None:
        super().__init__()
        self._settings = settings
        self._services = services
        self._live = live
        self._serializer = serializer
        self._websocket = websocket
        self._mark_name: str | None = None
        self._bot_spoke_after_arming = False
        self._timer: asyncio.Task | None = None
        self.worker = None  # set after the pipeline is built: used to speak the apology when the redirect fails
        self.responder: CarrierResponder | None = None
        self.done = asyncio.Event()

    async def arm(self, number: str) -> None:
        self._live.pending_transfer = number
        self._live.transfer_attempts += 1
        self._bot_spoke_after_arming = False
        self._mark_name = f"transfer-{self._live.transfer_attempts}"
        self._timer = asyncio.create_task(self._fallback())

    async def on_push_frame(self, data: FramePushed) -> None:
        if self._live.pending_transfer is None or self._live.transferring:
            return
        if isinstance(data.frame, BotStartedSpeakingFrame):
            self._bot_spoke_after_arming = True
        elif isinstance(data.frame, BotStoppedSpeakingFrame) and self._bot_spoke_after_arming:
            self._bot_spoke_after_arming = False  # one mark per announcement (the frame travels both directions)
            try:
                await self._websocket.send_text(self._serializer.mark_message(self._mark_name or "transfer"))
            except Exception:
                await self.execute()

    async def on_mark(self, name: str) -> None:
        if name == self._mark_name:
            await self.execute()

    async def _fallback(self) -> None:
        await asyncio.sleep(self._services.mark_timeout_s)
        await self.execute()

    async def execute(self) -> None:
        number = self._live.pending_transfer
        if number is None or self._live.transferring:
            return
        self._live.transferring = True
        self._serializer.handed_over = True
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        try:
            await redirect_to_dial(self._settings, self._live.info.call_id, number, self._live.info.company,
                                   attempt=self._live.transfer_attempts, timeout_s=self._services.dial_timeout_s)
            self.done.set()
        except TransferError as exc:
            log.error("call %s: transfer failed before dialling: %s", self._live.info.call_id, exc)
            self._live.transferring = False
            self._live.pending_transfer = None
            self._serializer.handed_over = False
            self._services.recorder.transfer_failed(self._live.info.call_id, "failed")
            await self._speak_failure()

    async def _speak_failure(self) -> None:
        """The line stays with the bot: let the brain apologise and continue (it will take a message)."""
        if self.responder is None or self.worker is None:
            return
        turn = await self.responder.respond(
            CallerInput(kind="transfer_failed", at=datetime.now(timezone.utc), reason="failed"))
        if turn.say:
            await self.worker.queue_frame(TTSSpeakFrame(turn.say))


async def run_twilio_stream(websocket: WebSocket, services: CallServices, settings: Settings) -> None:
    await websocket.accept()
    start = await read_start(websocket)
    if start is None:
        log.warning("twilio stream: no 'start' message; closing")
        await websocket.close(POLICY_VIOLATION)
        return
    details = start.get("start", {})
    params = details.get("customParameters") or {}
    call_sid = details.get("callSid") or ""
    stream_sid = details.get("streamSid") or start.get("streamSid") or ""
    company = params.get("company", "")
    if not token_ok(settings, call_sid, company, params.get("token", "")):
        log.warning("twilio stream for call %s refused: missing or wrong call token", call_sid or "?")
        await websocket.close(POLICY_VIOLATION)
        return
    profile = services.resolver.for_slug(company)
    if profile is None or not services.ready:
        log.error("twilio stream for call %s: %s", call_sid,
                  "unknown company" if profile is None else "no pipeline/brain wired into the app")
        await websocket.close(1011)
        return

    live = services.registry.get(call_sid)
    resume = None
    if live is None:
        info = CallInfo(call_id=call_sid, channel="twilio", company=profile.slug, caller=params.get("from") or None,
                        called=params.get("to") or None)
        live = services.registry.add(LiveCall(info=info, responder=services.new_responder(profile, info)))
        services.recorder.call_started(info)
        log.info("call %s for %s from %s: stream started", call_sid, profile.slug, mask_number(info.caller))
    if params.get("resume") == "transfer_failed":
        reason = params.get("reason") or "no-answer"
        resume = CallerInput(kind="transfer_failed", at=datetime.now(timezone.utc), reason=reason)
        live.transferring = False
        live.pending_transfer = None
        log.info("call %s: back with the bot after the transfer (%s)", call_sid, reason)

    credentials = bool(settings.twilio_account_sid and settings.twilio_auth_token)
    serializer = CallSerializer(
        stream_sid, call_sid=call_sid, account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token if credentials else None, base_url=settings.twilio_api_base_url,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=credentials),
    )
    controller = TransferController(settings=settings, services=services, live=live, serializer=serializer,
                                    websocket=websocket)
    serializer._on_mark = controller.on_mark
    transport = FastAPIWebsocketTransport(websocket, FastAPIWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False, serializer=serializer,
        allowed_origins=[]))
    responder = CarrierResponder(live.responder, resume=resume, on_transfer=controller.arm)
    controller.responder = responder
    worker = await asyncio.to_thread(services.build_pipeline, transport, profile, responder, live.info)
    controller.worker = worker
    worker.add_observer(controller)

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport, _ws) -> None:  # caller hung up, or Twilio moved the call on (transfer)
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
    log.info("call %s: stream ended%s", call_sid, " (handed over to the secretary)" if live.transferring else "")
