"""The ``/twilio/stream`` websocket: one Twilio Media Stream = one pipeline run for one call.

Twilio's protocol (https://www.twilio.com/docs/voice/media-streams/websocket-messages): ``connected``, then
``start`` (streamSid, callSid, customParameters), then ``media`` (base64 8 kHz µ-law), ``dtmf``, ``mark`` and
finally ``stop``. We read up to ``start`` ourselves, check the call token our signed ``/twilio/voice`` answer put in
the parameters (an unsigned websocket cannot start a pipeline; :mod:`bot.telephony.stream_token`), claim the
CallSid (a replayed or duplicated ``start`` for a call that has or had its stream is refused;
:mod:`bot.runtime.claims`), then hand the socket to pipecat's websocket transport with
:class:`~bot.telephony.serializer.CallSerializer`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

from fastapi import WebSocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport

from bot.brain.types import CallerInput
from bot.runtime.carrier_services import CallInfo, CallServices, CarrierHooks, LiveCall
from bot.settings import Settings
from bot.telephony.carrier import CarrierResponder, run_until_disconnect
from bot.telephony.masking import mask_number
from bot.telephony.serializer import CallSerializer
from bot.telephony.stream_token import token_problem
from bot.telephony.transfer_control import TransferController

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
POLICY_VIOLATION = 1008


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
    problem = token_problem(settings.twilio_auth_token, call_sid, params)
    if problem:
        log.warning("twilio stream for call %s refused: %s", call_sid or "?", problem)
        await websocket.close(POLICY_VIOLATION)
        return
    profile = services.resolver.for_slug(company)
    if profile is None or not services.ready:
        log.error("twilio stream for call %s: %s", call_sid,
                  "unknown company" if profile is None else "no pipeline/brain wired into the app")
        await websocket.close(1011)
        return
    resuming = params.get("resume") == "transfer_failed"
    try:
        claimed = await asyncio.to_thread(services.claims.claim, call_sid, resume=resuming)
    except Exception as exc:  # fail closed: without the claim a replayed start could not be told apart
        log.error("twilio stream for call %s: the stream claim could not be stored (%s); closing",
                  call_sid, type(exc).__name__)
        await websocket.close(1011)
        return
    if not claimed:
        log.warning("twilio stream for call %s refused: this call has or had its stream already (replayed or "
                    "duplicated start)", call_sid)
        await websocket.close(POLICY_VIOLATION)
        return
    try:
        await _run_claimed(websocket, services, settings, profile, params, call_sid, stream_sid, resuming)
    finally:
        # handed to the secretary: only the stream of an unanswered transfer may follow; otherwise none may
        live = services.registry.get(call_sid)
        await asyncio.to_thread(services.claims.release, call_sid, transferring=bool(live and live.transferring))


async def _run_claimed(websocket: WebSocket, services: CallServices, settings: Settings, profile, params: dict,
                       call_sid: str, stream_sid: str, resuming: bool) -> None:
    """The call's stream, once this process holds its claim."""
    live = services.registry.get(call_sid)
    resume = None
    if live is None:
        info = CallInfo(call_id=call_sid, channel="twilio", company=profile.slug, caller=params.get("from") or None,
                        called=params.get("to") or None)
        inner = await asyncio.to_thread(services.new_responder, profile, info)  # may load models: off the loop
        live = services.registry.add(LiveCall(info=info, responder=inner))
        await asyncio.to_thread(services.recorder.call_started, info)  # the database may be slow: not on the loop
        log.info("call %s for %s from %s: stream started", call_sid, profile.slug, mask_number(info.caller))
    if resuming:
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
                                    send_text=websocket.send_text)
    serializer.on_mark = controller.on_mark
    transport = FastAPIWebsocketTransport(websocket, FastAPIWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False, serializer=serializer,
        allowed_origins=[]))
    responder = CarrierResponder(live.responder, live=live, resume=resume,
                                 on_transfer=controller.arm if services.carrier_runs_transfer else None)
    controller.responder = responder
    hooks = CarrierHooks(transfer=controller.transfer)
    try:
        worker = await asyncio.to_thread(services.build_pipeline, transport, profile, responder, live.info, hooks)
    except Exception:
        log.exception("call %s: could not build the voice pipeline; closing the stream", call_sid)
        await websocket.close(1011)  # Twilio moves on to the next TwiML verb: none, so the call ends
        return
    controller.worker = worker
    worker.add_observer(controller)

    try:
        await run_until_disconnect(worker, transport)  # caller hung up, or Twilio moved the call on (transfer)
    finally:
        await controller.close()
    log.info("call %s: stream ended%s", call_sid, " (handed over to the secretary)" if live.transferring else "")
