"""Live transfer of a Twilio call to the company's secretary.

The call is redirected by updating the live Call resource with new TwiML (``<Dial>``) through Twilio's REST API.
Twilio then ends our media stream, rings the secretary for ``timeout`` seconds and requests the ``action`` URL with
``DialCallStatus``; :mod:`bot.web.twilio_routes` answers that: a completed dial is recorded as transferred, anything
else reconnects the caller to the bot, which apologises and takes a message.

The REST base URL is configurable (``RECEPTIONIST_TWILIO_API_BASE_URL``) so tests talk to a loopback server and
deployments can use a regional edge.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import httpx

from bot.settings import Settings
from bot.telephony import twiml
from bot.telephony.masking import mask_number
from bot.telephony.signature import public_base

log = logging.getLogger(__name__)


class TransferError(RuntimeError):
    """The call could not be redirected (no credentials, Twilio refused, network down)."""


def dial_action_url(settings: Settings, company: str, attempt: int) -> str:
    return f"{public_base(settings)}/twilio/dial-result?{urlencode({'company': company, 'attempt': attempt})}"


def call_resource_url(settings: Settings, call_sid: str) -> str:
    base = settings.twilio_api_base_url.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{settings.twilio_account_sid}/Calls/{call_sid}.json"


def whisper_url(settings: Settings, company: str, call_sid: str, attempt: int) -> str:
    """Where Twilio fetches the briefing for the secretary's leg; the parent call rides along in the query (Twilio
    signs the whole URL, so it cannot be swapped)."""
    query = urlencode({"company": company, "call": call_sid, "attempt": attempt})
    return f"{public_base(settings)}/twilio/whisper?{query}"


async def redirect_to_dial(settings: Settings, call_sid: str, number: str, company: str, *, attempt: int = 1,
                           timeout_s: int = 20, caller_id: str | None = None, warm: bool = False,
                           client: httpx.AsyncClient | None = None) -> dict:
    """Replace the live call's TwiML with a ``<Dial>`` to ``number``; returns Twilio's JSON answer.

    ``caller_id`` is the number the secretary sees; by default Twilio shows the caller's own number where allowed.
    """
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise TransferError("Twilio credentials are not configured (RECEPTIONIST_TWILIO_ACCOUNT_SID / _AUTH_TOKEN)")
    if not settings.public_url:
        raise TransferError("RECEPTIONIST_PUBLIC_URL is not set: Twilio could not report the dial result back")
    document = twiml.dial(number, dial_action_url(settings, company, attempt), timeout_s, caller_id,
                          whisper_url=whisper_url(settings, company, call_sid, attempt) if warm else None)
    url = call_resource_url(settings, call_sid)
    own_client = client is None
    client = client or httpx.AsyncClient(timeout=10.0)
    try:
        response = await client.post(url, data={"Twiml": document},
                                     auth=(settings.twilio_account_sid, settings.twilio_auth_token))
    except httpx.HTTPError as exc:
        raise TransferError(f"could not reach Twilio at {settings.twilio_api_base_url}: {exc}") from exc
    finally:
        if own_client:
            await client.aclose()
    if response.status_code >= 300:
        raise TransferError(f"Twilio refused the transfer (HTTP {response.status_code}): {response.text[:300]}")
    log.info("call %s: transferring to %s", call_sid, mask_number(number))
    try:
        return response.json()
    except ValueError:
        return {}
