"""The call token in a ``<Stream>``'s parameters: proof that our signed TwiML answer asked for this stream, recently.

A websocket ``start`` message is not signed by Twilio, so our TwiML (sent only in answer to a signature-checked
webhook) carries a token: an HMAC, keyed with the Twilio auth token, over the CallSid, the time it was issued and
every other stream parameter (company, caller and dialled number, resume reason). A token therefore only fits the
call and the parameters it was issued for, and only for :data:`TOKEN_TTL_S` seconds (Twilio opens the stream within
a second or two of our answer). It is not single-use by itself: the stream claim (:mod:`bot.runtime.claims`)
refuses a second stream for the same call.

Form: ``<issued unix seconds>.<32 hex digits>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping

TOKEN_TTL_S = 600  # a token older than this (from the /twilio/voice or dial-result answer) is refused
CLOCK_SKEW_S = 60  # several workers' clocks may differ a little; a token from further in the future is refused


def _mac(secret: str, call_sid: str, issued: int, params: Mapping[str, str]) -> str:
    # JSON, not joined strings: no parameter value (a caller ID can be spoofed) can shift into another field.
    # Empty values are left out, as Twilio may drop an empty <Parameter>.
    signed = sorted((k, v) for k, v in params.items() if k != "token" and v)
    body = json.dumps(["stream-v2", call_sid, issued, signed], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()[:32]


def call_token(secret: str, call_sid: str, params: Mapping[str, str], issued_at: float | None = None) -> str:
    """The token for a stream of ``call_sid`` with these parameters (``token`` itself is ignored if present)."""
    issued = int(time.time() if issued_at is None else issued_at)
    return f"{issued}.{_mac(secret, call_sid, issued, params)}"


def token_problem(secret: str | None, call_sid: str, params: Mapping[str, str], now: float | None = None,
                  ttl_s: float = TOKEN_TTL_S) -> str | None:
    """Why the stream's ``token`` parameter is not acceptable (for the log), or None when it is."""
    token = params.get("token") or ""
    if not secret:
        return "no Twilio auth token configured"
    if not token or not call_sid:
        return "missing call token"
    issued_text, _, mac = token.partition(".")
    if not (issued_text.isascii() and issued_text.isdigit()) or not mac or not mac.isascii():
        return "malformed call token"  # ascii only: int("²") and compare_digest on non-ASCII str raise
    issued = int(issued_text)
    if not hmac.compare_digest(_mac(secret, call_sid, issued, params).encode(), mac.encode()):
        return "call token does not match this call and its parameters"
    age = (time.time() if now is None else now) - issued
    if age > ttl_s:
        return f"call token expired ({int(age)} s old)"
    if age < -CLOCK_SKEW_S:
        return "call token issued in the future"
    return None
