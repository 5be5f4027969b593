"""Twilio warm transfer: the caller on hold with music, the secretary briefed on a call of her own.

The sequence (see :mod:`bot.telephony.transfer` for the REST side):

1. The bot moves the caller into a hold room (``<Conference startConferenceOnEnter=false waitUrl=/twilio/hold>``)
   and places a call to the secretary whose TwiML is ``/twilio/whisper``.
2. ``/twilio/hold`` — Twilio's ``waitUrl`` — loops the hold music (``/twilio/hold-music.wav``) for the caller.
3. She answers and hears the briefing; ``/twilio/whisper-answer`` gets her key: 1 lets her into the room (the
   conference starts, the music stops, the two talk); anything else, and no key, sends the caller back to the bot.
4. ``/twilio/secretary-status`` — her call's status callback — covers the rest: busy, no answer, failed, or she hung
   up during the briefing. Only the first decision counts (``claims.screen``), so a late or replayed request cannot
   bring a caller back twice or turn a decline into an accept.
5. ``/twilio/resume`` is what Twilio requests for the caller's call when it is sent back: a new media stream that
   continues the same conversation ("she is not available — may I take a message?").

Every route but the WAV file is signature-checked; the WAV is generated music with nothing personal in it.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response

import prompts
from bot.runtime.briefing import briefing_for_call
from bot.runtime.carrier_services import get_services
from bot.settings import Settings
from bot.telephony import twiml
from bot.runtime.wav_file import wav_bytes
from bot.telephony.hold_music import HoldMusicError, generated_loop, hold_music
from bot.telephony.signature import public_base, verified_form
from bot.telephony.transfer import RESUME_REASONS, conference_room, hold_music_url, return_caller
from bot.web.twilio_routes import TERMINAL_CALL_STATUSES, stream_twiml, xml

log = logging.getLogger(__name__)

router = APIRouter(prefix="/twilio", tags=["twilio"])


def _language(request: Request, company: str) -> str:
    profile = get_services(request.app).resolver.for_slug(company)
    return profile.default_language if profile else "de"


def _say_and_hang_up(language: str, key: str) -> Response:
    return xml(twiml.say_and_hang_up([(language, prompts.load(language, "telephony")[key])]))


def _hold_music_wav(request: Request) -> bytes:
    """The configured hold music (or the generated loop) as an 8 kHz WAV, built once per app."""
    cached = getattr(request.app.state, "hold_music_wav", None)
    if cached is None:
        settings: Settings = request.app.state.settings
        try:
            pcm = hold_music(settings.hold_music)
        except HoldMusicError as exc:  # a caller on hold must never hear silence: the generated loop instead
            log.error("%s; playing the generated hold music instead", exc)
            pcm = generated_loop()
        cached = request.app.state.hold_music_wav = wav_bytes(pcm, 8000)
    return cached


@router.post("/hold", summary="Warm transfer: the hold room's waitUrl — loops the hold music for the caller")
async def hold(request: Request, form: dict[str, str] = Depends(verified_form)) -> Response:
    return xml(twiml.play_loop(hold_music_url(request.app.state.settings)))


@router.get("/hold-music.wav", summary="The hold music as an 8 kHz WAV file (what <Play> fetches)")
async def hold_music_file(request: Request) -> Response:
    return Response(content=_hold_music_wav(request), media_type="audio/wav",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.post("/whisper", summary="Warm transfer: the briefing on the secretary's call, before she is connected")
async def whisper(request: Request, company: str = "", call: str = "", attempt: str = "1",
                  form: dict[str, str] = Depends(verified_form)) -> Response:
    services = get_services(request.app)
    if await asyncio.to_thread(services.claims.state, call) != "transferring":
        log.info("call %s: the secretary answered, but the caller is no longer on hold", call[:8])
        return _say_and_hang_up(_language(request, company), "briefing_caller_gone")
    language, sentences = briefing_for_call(services, company, call)
    query = urlencode({"company": company, "call": call, "attempt": attempt})
    action = f"{public_base(request.app.state.settings, request)}/twilio/whisper-answer?{query}"
    log.info("call %s: briefing the secretary (warm transfer)", call[:8])
    no_input = prompts.load(language, "telephony")["briefing_no_input"]
    return xml(twiml.briefing(language, sentences, action, no_input))


@router.post("/whisper-answer", summary="Warm transfer: the secretary pressed 1 (connect) or anything else (decline)")
async def whisper_answer(request: Request, company: str = "", call: str = "",
                         form: dict[str, str] = Depends(verified_form)) -> Response:
    services = get_services(request.app)
    settings: Settings = request.app.state.settings
    profile = services.resolver.for_slug(company)
    language = profile.default_language if profile else "de"
    decision = "accepted" if form.get("Digits", "") == "1" else "declined"
    recorded = await asyncio.to_thread(services.claims.screen, call, decision)
    log.info("call %s: secretary %s the call%s", call[:8], decision, "" if recorded else " (too late: ignored)")
    if not recorded:
        gone = await asyncio.to_thread(services.claims.state, call) == "ended"
        return _say_and_hang_up(language, "briefing_caller_gone" if gone else "briefing_declined")
    live = services.registry.get(call)
    if decision == "accepted":
        number = form.get("To") or (profile.secretary_number if profile else "") or ""
        await asyncio.to_thread(services.recorder.call_transferred, call, number)
        if live:
            live.transferred = True
        connecting = prompts.load(language, "telephony")["briefing_connecting"]
        return xml(twiml.join_conference(conference_room(settings, call), (language, connecting)))
    await asyncio.to_thread(services.recorder.transfer_failed, call, "declined")
    await return_caller(settings, call, company, "declined")
    return _say_and_hang_up(language, "briefing_declined")


@router.post("/secretary-status", status_code=204,
             summary="Warm transfer: the secretary's call ended — busy, unanswered or declined brings the caller back")
async def secretary_status(request: Request, company: str = "", call: str = "",
                           form: dict[str, str] = Depends(verified_form)) -> Response:
    services = get_services(request.app)
    status = form.get("CallStatus", "")
    if status not in TERMINAL_CALL_STATUSES:
        return Response(status_code=204)
    live = services.registry.get(call)
    if live:
        live.secretary_call = None
    # her call ended without an accept recorded first: she declined by hanging up or letting the briefing run out
    # ("completed"), was busy, did not answer, or could not be called
    if await asyncio.to_thread(services.claims.screen, call, "declined"):
        reason = "declined" if status == "completed" else status if status in RESUME_REASONS else "failed"
        log.info("call %s: the secretary's call ended %s; the caller goes back to the bot", call[:8], status)
        await asyncio.to_thread(services.recorder.transfer_failed, call, reason)
        await return_caller(request.app.state.settings, call, company, reason)
    return Response(status_code=204)


@router.post("/resume", summary="Warm transfer: the held caller comes back to the bot on a new media stream")
async def resume(request: Request, company: str = "", reason: str = "",
                 form: dict[str, str] = Depends(verified_form)) -> Response:
    services = get_services(request.app)
    if services.resolver.for_slug(company) is None or not services.ready or reason not in RESUME_REASONS:
        log.warning("call %s: cannot resume for company %r (reason %r); hanging up", form.get("CallSid", "")[:8],
                    company, reason)
        return xml(twiml.hang_up())
    return xml(stream_twiml(request, company, form, resume="transfer_failed", reason=reason))
