"""Is this deployment ready for Twilio? Checks settings and credentials and lists what to enter in the console."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from bot.runtime.resolver import CompanyResolver
from bot.settings import Settings
from bot.telephony.signature import websocket_base


@dataclass
class TwilioCheck:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)  # E.164 -> company slug
    account: str | None = None  # friendly name of the Twilio account, when the credentials worked

    @property
    def ok(self) -> bool:
        return not self.problems


def check_twilio(settings: Settings, resolver: CompanyResolver, *, timeout_s: float = 10.0) -> TwilioCheck:
    result = TwilioCheck()
    public = (settings.public_url or "").rstrip("/")
    if not public:
        result.problems.append("RECEPTIONIST_PUBLIC_URL is not set: Twilio needs the public https URL of this app.")
    else:
        if not public.startswith("https://"):
            result.warnings.append(f"RECEPTIONIST_PUBLIC_URL={public} is not https: Twilio requires TLS for the "
                                   "media stream (wss://); use a reverse proxy with a certificate.")
        result.urls = {"voice webhook (A call comes in, HTTP POST)": f"{public}/twilio/voice",
                       "status callback (Call status changes, HTTP POST)": f"{public}/twilio/status",
                       "media stream (opened by the app's TwiML)": websocket_base(settings) + "/twilio/stream"}
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    if not (sid and token):
        result.problems.append("RECEPTIONIST_TWILIO_ACCOUNT_SID and RECEPTIONIST_TWILIO_AUTH_TOKEN must both be set "
                               "(webhook signatures, transfers, hang-ups).")
    else:
        url = f"{settings.twilio_api_base_url.rstrip('/')}/2010-04-01/Accounts/{sid}.json"
        try:
            response = httpx.get(url, auth=(sid, token), timeout=timeout_s)
        except httpx.HTTPError as exc:
            result.problems.append(f"could not reach the Twilio API at {settings.twilio_api_base_url}: {exc}")
        else:
            if response.status_code == 200:
                result.account = response.json().get("friendly_name") or sid
            elif response.status_code in (401, 403, 404):
                result.problems.append(f"Twilio refused the credentials (HTTP {response.status_code}): check the "
                                       "account SID and auth token (regional edges have their own tokens).")
            else:
                result.problems.append(f"Twilio API answered HTTP {response.status_code}: {response.text[:200]}")
    for profile in resolver.companies():
        for number in profile.phone_numbers:
            result.numbers[number] = profile.slug
        if not profile.secretary_number:
            result.warnings.append(f"company {profile.slug}: no secretary number, so callers can only leave messages")
    if not result.numbers:
        result.warnings.append("no company has a phone number yet: `receptionist company set SLUG --phone +49…`")
    return result
