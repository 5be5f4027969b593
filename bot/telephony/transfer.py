"""Live transfer of a Twilio call to the company's secretary, through Twilio's REST API.

Cold transfer: the live Call resource gets new TwiML (``<Dial>``). Twilio ends our media stream, rings the
secretary for ``timeout`` seconds and requests the ``action`` URL with ``DialCallStatus``;
:mod:`bot.web.twilio_routes` answers that: a completed dial is recorded as transferred, anything else reconnects the
caller to the bot, which apologises and takes a message.

Warm transfer: the caller is put on hold in a conference room of their own (``startConferenceOnEnter=false``: they
hear the ``waitUrl``'s hold music, not a ring-back tone that suggests nobody answers), and the bot places a *second*
call to the secretary (``POST …/Calls.json``) whose TwiML is the briefing. Only when she presses 1 does she enter the
room, which starts the conference and connects the two. Declined, busy, unanswered: the caller's call is sent back
to a media stream (``Url=…/twilio/resume``) and the bot takes a message. The room's name is an HMAC of the call's
SID — opaque, no personal data (as Twilio asks), and the same on both legs without storing anything.

The REST base URL is configurable (``RECEPTIONIST_TWILIO_API_BASE_URL``) so tests talk to a loopback server and
deployments can use a regional edge.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import urlencode

import httpx

from bot.settings import Settings
from bot.telephony import twiml
from bot.telephony.masking import mask_number
from bot.telephony.signature import public_base

log = logging.getLogger(__name__)

# why the caller came back to the bot; the resume route accepts nothing else (it ends up in the brain's input)
RESUME_REASONS = ("no-answer", "busy", "failed", "declined", "canceled")


class TransferError(RuntimeError):
    """The call could not be redirected (no credentials, Twilio refused, network down)."""


def dial_action_url(settings: Settings, company: str, attempt: int) -> str:
    return f"{public_base(settings)}/twilio/dial-result?{urlencode({'company': company, 'attempt': attempt})}"


def _account_url(settings: Settings) -> str:
    return f"{settings.twilio_api_base_url.rstrip('/')}/2010-04-01/Accounts/{settings.twilio_account_sid}"


def call_resource_url(settings: Settings, call_sid: str) -> str:
    return f"{_account_url(settings)}/Calls/{call_sid}.json"


def calls_url(settings: Settings) -> str:
    return f"{_account_url(settings)}/Calls.json"


def _leg_query(company: str, call_sid: str, attempt: int) -> str:
    return urlencode({"company": company, "call": call_sid, "attempt": attempt})


def whisper_url(settings: Settings, company: str, call_sid: str, attempt: int) -> str:
    """Where Twilio fetches the briefing for the secretary's leg; the caller's call rides along in the query (Twilio
    signs the whole URL, so it cannot be swapped)."""
    return f"{public_base(settings)}/twilio/whisper?{_leg_query(company, call_sid, attempt)}"


def secretary_status_url(settings: Settings, company: str, call_sid: str, attempt: int) -> str:
    """Status callback of the secretary's call: how it ended decides whether the caller comes back to the bot."""
    return f"{public_base(settings)}/twilio/secretary-status?{_leg_query(company, call_sid, attempt)}"


def hold_url(settings: Settings) -> str:
    return f"{public_base(settings)}/twilio/hold"


def hold_music_url(settings: Settings) -> str:
    return f"{public_base(settings)}/twilio/hold-music.wav"


def resume_url(settings: Settings, company: str, reason: str) -> str:
    return f"{public_base(settings)}/twilio/resume?{urlencode({'company': company, 'reason': reason})}"


def conference_room(settings: Settings, call_sid: str) -> str:
    """The hold room of one call: derived from its SID with the auth token as key, so it names nobody and cannot be
    guessed from outside."""
    key = (settings.twilio_auth_token or "").encode()
    return "hold-" + hmac.new(key, call_sid.encode(), hashlib.sha256).hexdigest()[:24]


def _check_ready(settings: Settings) -> None:
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise TransferError("Twilio credentials are not configured (RECEPTIONIST_TWILIO_ACCOUNT_SID / _AUTH_TOKEN)")
    if not settings.public_url:
        raise TransferError("RECEPTIONIST_PUBLIC_URL is not set: Twilio could not report the dial result back")


async def _post(settings: Settings, url: str, data: dict[str, str], what: str,
                client: httpx.AsyncClient | None) -> dict:
    """One authenticated form POST to Twilio's REST API; its JSON answer, or :class:`TransferError` saying why not."""
    own_client = client is None
    client = client or httpx.AsyncClient(timeout=10.0)
    try:
        response = await client.post(url, data=data, auth=(settings.twilio_account_sid, settings.twilio_auth_token))
    except httpx.HTTPError as exc:
        raise TransferError(f"could not reach Twilio at {settings.twilio_api_base_url}: {exc}") from exc
    finally:
        if own_client:
            await client.aclose()
    if response.status_code >= 300:
        raise TransferError(f"Twilio refused {what} (HTTP {response.status_code}): {response.text[:300]}")
    try:
        return response.json()
    except ValueError:
        return {}


async def redirect_to_dial(settings: Settings, call_sid: str, number: str, company: str, *, attempt: int = 1,
                           timeout_s: int = 20, caller_id: str | None = None,
                           client: httpx.AsyncClient | None = None) -> dict:
    """Cold transfer: replace the live call's TwiML with a ``<Dial>`` to ``number``; returns Twilio's JSON answer.

    ``caller_id`` is the number the secretary sees; by default Twilio shows the caller's own number where allowed.
    """
    _check_ready(settings)
    document = twiml.dial(number, dial_action_url(settings, company, attempt), timeout_s, caller_id)
    answer = await _post(settings, call_resource_url(settings, call_sid), {"Twiml": document}, "the transfer",
                         client)
    log.info("call %s: transferring to %s", call_sid, mask_number(number))
    return answer


async def start_warm_transfer(settings: Settings, call_sid: str, number: str, company: str, *, from_number: str,
                              attempt: int = 1, timeout_s: int = 20,
                              client: httpx.AsyncClient | None = None) -> str | None:
    """Warm transfer: the caller to the hold room, then a call to the secretary with the briefing.

    Returns the secretary's call SID, or ``None`` when her call could not be placed — the caller has then been sent
    back to the bot already (reason ``failed``). :class:`TransferError` means the caller was never moved: the bot
    still has the line and apologises itself.
    """
    _check_ready(settings)
    hold = twiml.hold_in_conference(conference_room(settings, call_sid), hold_url(settings))
    await _post(settings, call_resource_url(settings, call_sid), {"Twiml": hold}, "the hold", client)
    log.info("call %s: caller on hold; calling %s (warm transfer)", call_sid, mask_number(number))
    try:
        answer = await _post(settings, calls_url(settings), {
            "To": number, "From": from_number, "Url": whisper_url(settings, company, call_sid, attempt),
            "Method": "POST", "Timeout": str(int(timeout_s)),
            "StatusCallback": secretary_status_url(settings, company, call_sid, attempt),
            "StatusCallbackMethod": "POST"}, "the call to the secretary", client)
    except TransferError as exc:
        log.error("call %s: the secretary could not be called (%s); back to the bot", call_sid, exc)
        await return_caller(settings, call_sid, company, "failed", client=client)
        return None
    return answer.get("sid")


async def return_caller(settings: Settings, call_sid: str, company: str, reason: str, *,
                        client: httpx.AsyncClient | None = None) -> bool:
    """Send a held caller back to the bot (Twilio requests ``/twilio/resume``, which opens a new media stream);
    False when Twilio could not be told (logged: the caller then stays on hold until someone hangs up)."""
    try:
        await _post(settings, call_resource_url(settings, call_sid),
                    {"Url": resume_url(settings, company, reason), "Method": "POST"}, "the return to the bot", client)
        return True
    except TransferError as exc:
        log.error("call %s: could not bring the caller back from hold: %s", call_sid, exc)
        return False


async def hang_up_call(settings: Settings, call_sid: str, *, client: httpx.AsyncClient | None = None) -> bool:
    """End a call in any state (``Status=completed`` also stops one that still rings); False when Twilio refused."""
    try:
        await _post(settings, call_resource_url(settings, call_sid), {"Status": "completed"}, "the hang-up", client)
        return True
    except TransferError as exc:
        log.warning("could not end call %s: %s", call_sid, exc)
        return False
