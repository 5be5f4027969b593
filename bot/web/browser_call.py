"""Calling the bot from a browser: the ``/call`` page and its WebRTC offer/answer endpoint (pipecat SmallWebRTC).

People who evaluate the product should not need a phone number: they pick a demo company, allow the microphone and
talk. The page shows the live transcript and the outcome (answer, message taken, transfer), sent by the server over
the WebRTC data channel as ``{"type": "receptionist", "event": {...}}`` messages, next to pipecat's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from bot.runtime.carrier_services import CallInfo, CallServices, CarrierHooks, get_services
from bot.settings import Settings
from bot.telephony.carrier import CarrierResponder, run_until_disconnect

log = logging.getLogger(__name__)

router = APIRouter(tags=["browser-call"])

PAGE_LANGUAGES = ("de", "en")


class Offer(BaseModel):
    sdp: str
    type: str = "offer"
    company: str = Field(..., description="slug of the company to call")
    pc_id: str | None = None
    restart_pc: bool | None = None


class Candidate(BaseModel):
    candidate: str
    sdp_mid: str
    sdp_mline_index: int


class CandidatePatch(BaseModel):
    pc_id: str
    candidates: list[Candidate]


def ice_servers(settings: Settings) -> list[dict[str, Any]]:
    """``RECEPTIONIST_WEBRTC_ICE_SERVERS`` as RTCIceServer dicts (the same list goes to the page and to aiortc).

    ``stun:host:3478`` stays as it is; ``turn:USER:PASSWORD@host:3478`` becomes urls + username + credential.
    """
    servers: list[dict[str, Any]] = []
    for item in filter(None, (s.strip() for s in (settings.webrtc_ice_servers or "").split(","))):
        scheme, _, rest = item.partition(":")
        if scheme in ("turn", "turns") and "@" in rest:
            auth, _, host = rest.rpartition("@")
            user, _, password = auth.partition(":")
            servers.append({"urls": f"{scheme}:{host}", "username": user, "credential": password})
        elif scheme in ("stun", "turn", "turns"):
            servers.append({"urls": item})
        else:
            raise ValueError(f"RECEPTIONIST_WEBRTC_ICE_SERVERS: {item!r} is not a stun:/turn: URL")
    return servers


def ensure_ice_host_addresses() -> None:
    """aiortc offers no candidates on a machine whose only interface is loopback; fall back to 127.0.0.1 there."""
    import aioice.ice

    if aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False):
        return
    original = aioice.ice.get_host_addresses

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return original(use_ipv4, use_ipv6) or (["127.0.0.1"] if use_ipv4 else [])

    aioice.ice.get_host_addresses = with_loopback
    log.warning("no network interface besides loopback: browser calls work from this machine only")


def _request_handler(app, settings: Settings):
    handler = getattr(app.state, "webrtc_handler", None)
    if handler is None:
        from aiortc import RTCIceServer
        from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler

        ensure_ice_host_addresses()
        servers = [RTCIceServer(**s) for s in ice_servers(settings)]
        handler = SmallWebRTCRequestHandler(ice_servers=servers or None)
        app.state.webrtc_handler = handler
        app.state.browser_calls = set()
    return handler


def _page_language(request: Request, lang: str | None) -> str:
    if lang in PAGE_LANGUAGES:
        return lang
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "de"


@router.get("/call", response_class=HTMLResponse, summary="Talk to a demo company's bot from the browser")
def call_page(request: Request, lang: str | None = None, company: str | None = None) -> HTMLResponse:
    from bot.web.templating import templates

    services = get_services(request.app)
    settings: Settings = request.app.state.settings
    companies = [{"slug": p.slug, "name": p.name} for p in services.callable_companies()]
    return templates.TemplateResponse(request, "browser_call.html", {
        "page_lang": _page_language(request, lang), "companies": companies, "selected": company or "",
        "ready": services.ready, "ice_servers": json.dumps(ice_servers(settings)),
    })


async def _run_call(services: CallServices, worker, transport, info: CallInfo) -> None:
    try:
        await run_until_disconnect(worker, transport)
    finally:
        services.recorder.call_ended(info.call_id, "completed", None)
        log.info("browser call %s for %s ended", info.call_id, info.company)


@router.post("/call/offer", summary="WebRTC offer from the call page; answers with the server's SDP")
async def offer(body: Offer, request: Request) -> dict:
    from pipecat.transports.base_transport import TransportParams
    from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequest
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

    services = get_services(request.app)
    settings: Settings = request.app.state.settings
    profile = next((p for p in services.callable_companies() if p.slug == body.company), None)
    if profile is None:
        raise HTTPException(404, f"unknown company {body.company!r}")
    if not services.ready:
        raise HTTPException(503, "the voice pipeline is not available in this deployment")
    if body.pc_id is None:
        await request.app.state.readiness.wait()  # the models warm up: the greeting then comes at once
    if body.pc_id is None and len(getattr(request.app.state, "browser_calls", ())) >= services.max_browser_calls:
        raise HTTPException(503, "all lines are busy, please try again in a few minutes")
    handler = _request_handler(request.app, settings)
    failures: list[tuple[BaseException, object]] = []

    async def start(connection) -> None:
        try:
            await _start(connection)
        except Exception as exc:  # pipecat only logs callback errors; the page must hear about it
            log.exception("browser call for %s could not start", profile.slug)
            failures.append((exc, connection))

    async def _start(connection) -> None:
        info = CallInfo(call_id=connection.pc_id, channel="browser", company=profile.slug)

        def send(event: dict) -> None:
            connection.send_app_message({"type": "receptionist", "event": event})

        def transfer(number: str) -> None:  # no phone line here: the page shows where the call would go
            services.recorder.call_transferred(info.call_id, number)
            send({"type": "transfer", "number": number, "name": profile.secretary_name or ""})

        inner = await asyncio.to_thread(services.new_responder, profile, info)
        responder = CarrierResponder(inner, on_transfer=transfer, on_event=send)
        transport = SmallWebRTCTransport(webrtc_connection=connection, params=TransportParams(
            audio_in_enabled=True, audio_out_enabled=True))
        worker = await asyncio.to_thread(services.build_pipeline, transport, profile, responder, info,
                                         CarrierHooks())
        services.recorder.call_started(info)
        task = asyncio.create_task(_run_call(services, worker, transport, info))
        request.app.state.browser_calls.add(task)
        task.add_done_callback(request.app.state.browser_calls.discard)

    answer = await handler.handle_web_request(
        SmallWebRTCRequest(sdp=body.sdp, type=body.type, pc_id=body.pc_id, restart_pc=body.restart_pc), start)
    if failures:
        exc, connection = failures[0]
        await connection.disconnect()
        raise HTTPException(500, f"the call could not be started: {exc}")
    return answer


@router.patch("/call/offer", status_code=204, summary="Trickled ICE candidates for a call page's connection")
async def candidates(body: CandidatePatch, request: Request) -> None:
    from pipecat.transports.smallwebrtc.request_handler import IceCandidate, SmallWebRTCPatchRequest

    handler = _request_handler(request.app, request.app.state.settings)
    await handler.handle_patch_request(SmallWebRTCPatchRequest(pc_id=body.pc_id, candidates=[
        IceCandidate(c.candidate, c.sdp_mid, c.sdp_mline_index) for c in body.candidates]))
