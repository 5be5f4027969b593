"""Twilio webhooks and the media-stream websocket. Every HTTP webhook is signature-checked before anything starts."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Request, Response, WebSocket

import prompts
from bot.runtime.carrier_services import get_services
from bot.settings import Settings
from bot.telephony import twiml
from bot.telephony.masking import mask_number
from bot.telephony.signature import verified_form, websocket_base
from bot.telephony.stream_token import call_token
from bot.telephony.transfer import hang_up_call
from bot.telephony.twilio_stream import run_twilio_stream

log = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["twilio"])

TERMINAL_CALL_STATUSES = {"completed", "busy", "no-answer", "canceled", "failed"}
DIAL_FAILED = {"no-answer", "busy", "failed"}


def xml(document: str) -> Response:
    return Response(content=document, media_type="application/xml")


def _both_languages(key: str) -> list[tuple[str, str]]:
    return [(lang, prompts.load(lang, "telephony")[key]) for lang in ("de", "en")]


def stream_twiml(request: Request, company: str, form: dict[str, str], **extra: str) -> str:
    """``<Connect><Stream>`` for the call in ``form`` (its Twilio webhook), with a signed stream token."""
    settings: Settings = request.app.state.settings
    call_sid = form.get("CallSid", "")
    params = {"company": company, "from": form.get("From", ""), "to": form.get("To", ""), **extra}
    params["token"] = call_token(settings.twilio_auth_token or "", call_sid, params)  # signs all of the above
    return twiml.connect_stream(websocket_base(settings, request) + "/twilio/stream", params)


@router.post("/voice", summary="Incoming call: connect it to the bot of the company that owns the dialled number")
async def voice(request: Request, form: dict[str, str] = Depends(verified_form)) -> Response:
    services = get_services(request.app)
    called, call_sid = form.get("To", ""), form.get("CallSid", "")
    profile = services.resolver.for_number(called)
    if profile is None:
        log.warning("call %s to unknown number %s: refused politely", call_sid, mask_number(called))
        return xml(twiml.say_and_hang_up(_both_languages("unknown_number")))
    if not services.ready:
        log.error("call %s for %s: no brain/pipeline wired into the app", call_sid, profile.slug)
        return xml(twiml.say_and_hang_up(_both_languages("unavailable")))
    if not await request.app.state.readiness.wait():  # let it ring while warming: the greeting then comes at once
        log.warning("call %s for %s taken before the warm-up finished", call_sid, profile.slug)
    log.info("call %s for %s from %s", call_sid, profile.slug, mask_number(form.get("From")))
    return xml(stream_twiml(request, profile.slug, form))


@router.post("/status", status_code=204, summary="Call status callback: completes the call record")
async def status(request: Request, form: dict[str, str] = Depends(verified_form)) -> Response:
    services = get_services(request.app)
    call_sid, call_status = form.get("CallSid", ""), form.get("CallStatus", "")
    if call_status in TERMINAL_CALL_STATUSES:
        duration = form.get("CallDuration")
        services.recorder.call_ended(call_sid, call_status, int(duration) if duration and duration.isdigit() else None)
        live = services.registry.pop(call_sid)
        if live and live.secretary_call and not live.transferred:  # hung up on hold: stop ringing the secretary
            await hang_up_call(request.app.state.settings, live.secretary_call)
        await asyncio.to_thread(services.claims.call_ended, call_sid)  # no stream may start for it any more
        log.info("call %s ended: %s", call_sid, call_status)
    return Response(status_code=204)


@router.post("/dial-result", summary="Result of a transfer <Dial>: record it, or bring the caller back to the bot")
async def dial_result(request: Request, company: str = "", form: dict[str, str] = Depends(verified_form)) -> Response:
    services = get_services(request.app)
    call_sid, dial_status = form.get("CallSid", ""), form.get("DialCallStatus", "")
    live = services.registry.get(call_sid)
    number = live.pending_transfer if live else None
    profile = services.resolver.for_slug(company)
    if dial_status in ("completed", "answered"):
        services.recorder.call_transferred(call_sid, number or "")
        if live:
            live.transferred = True
        log.info("call %s: transfer to %s completed", call_sid, mask_number(number))
        return xml(twiml.hang_up())
    if dial_status in DIAL_FAILED | {"declined"} and profile is not None and services.ready:
        services.recorder.transfer_failed(call_sid, dial_status)
        log.info("call %s: transfer to %s ended %s; back to the bot", call_sid, mask_number(number), dial_status)
        return xml(stream_twiml(request, company, form, resume="transfer_failed", reason=dial_status))
    log.info("call %s: dial ended %s; hanging up", call_sid, dial_status or "(no status)")
    return xml(twiml.hang_up())


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    await run_twilio_stream(websocket, get_services(websocket.app), websocket.app.state.settings)
