"""Checking that a webhook really comes from Twilio (``X-Twilio-Signature``).

Twilio signs the exact URL it requested plus the POST parameters with the account's auth token. Behind a reverse
proxy the URL uvicorn sees (``http://127.0.0.1:8000/twilio/voice``) is not the one Twilio signed
(``https://bot.example.de/twilio/voice``), so the public URL from ``RECEPTIONIST_PUBLIC_URL`` is used for the path
and query of the request. Without an auth token every webhook is refused: an unverifiable request must start nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import HTTPException, Request
from twilio.request_validator import RequestValidator

from bot.settings import Settings

log = logging.getLogger(__name__)


def public_base(settings: Settings, request: Request | None = None) -> str:
    """The public https base URL (no trailing slash); falls back to the request's own base when unset."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if request is None:
        raise RuntimeError("RECEPTIONIST_PUBLIC_URL is not set")
    return str(request.base_url).rstrip("/")


def websocket_base(settings: Settings, request: Request | None = None) -> str:
    """``wss://…`` for an https public URL, ``ws://…`` for plain http (local tests)."""
    base = public_base(settings, request)
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):]
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):]
    return base


def signed_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: public base + the path and query the proxy passed through."""
    url = public_base(settings, request) + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


def is_valid(settings: Settings, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    if not settings.twilio_auth_token or not signature:
        return False
    return RequestValidator(settings.twilio_auth_token).validate(url, dict(params), signature)


async def verified_form(request: Request) -> dict[str, str]:
    """FastAPI dependency: the webhook's form fields, or 403 when the signature is missing or wrong."""
    settings: Settings = request.app.state.settings
    form = {k: str(v) for k, v in (await request.form()).items()}
    url = signed_url(settings, request)
    signature = request.headers.get("X-Twilio-Signature")
    if not settings.twilio_auth_token:
        log.error("refusing Twilio webhook %s: RECEPTIONIST_TWILIO_AUTH_TOKEN is not set", request.url.path)
        raise HTTPException(status_code=403, detail="Twilio webhooks are disabled: no auth token configured.")
    if not is_valid(settings, url, form, signature):
        log.warning("refusing Twilio webhook %s: %s signature (checked against %s)", request.url.path,
                    "missing" if not signature else "invalid", url)
        raise HTTPException(status_code=403, detail="Invalid or missing X-Twilio-Signature.")
    return form
