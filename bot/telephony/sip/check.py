"""Is this deployment ready for the SIP carrier? Settings, and one real REGISTER at the registrar (then removed)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.runtime.carrier_services import CallServices
from bot.runtime.resolver import CompanyResolver
from bot.settings import Settings
from bot.telephony.sip.register import Registration, RegistrationError
from bot.telephony.sip.ua import SipUserAgent


@dataclass
class SipCheck:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    registered: str | None = None  # "user@registrar (UDP)" when the REGISTER was accepted
    numbers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


async def check_sip(settings: Settings, resolver: CompanyResolver, *, timeout_s: float = 10.0) -> SipCheck:
    result = SipCheck()
    if not settings.sip_transports:
        result.problems.append(f"RECEPTIONIST_SIP_TRANSPORT={settings.sip_transport!r}: use udp, tcp or udp,tcp")
    if not settings.sip_enabled:
        result.warnings.append("RECEPTIONIST_SIP_ENABLED is off: `receptionist serve` will not answer SIP calls")
    if settings.sip_registrar:
        if not settings.sip_user:
            result.problems.append("RECEPTIONIST_SIP_USER is not set (sipgate: the SIP-ID; Telekom: the number)")
        if result.ok:
            # a throwaway user agent on a free port, so a running server keeps its own
            probe = settings.model_copy(update={"sip_port": 0})
            ua = SipUserAgent(probe, CallServices(resolver=resolver))
            try:
                await ua.start()
                registration = Registration(probe, ua)
                await asyncio.wait_for(registration.register(expires=60), timeout_s + 5)
                result.registered = (f"{settings.sip_user}@{registration.host}:{registration.port} "
                                     f"({registration.transport.upper()})")
                await registration.unregister()
            except RegistrationError as exc:
                result.problems.append(str(exc))
            except (OSError, asyncio.TimeoutError) as exc:
                result.problems.append(f"registrar {settings.sip_registrar} unreachable: {exc or type(exc).__name__}")
            finally:
                await ua.stop()
    else:
        result.warnings.append("no RECEPTIONIST_SIP_REGISTRAR: only direct INVITEs (a PBX or trunk that sends calls "
                               f"to this host's port {settings.sip_port}) reach the bot")
    for profile in resolver.companies():
        for number in profile.phone_numbers:
            result.numbers[number] = profile.slug
    if not result.numbers and not settings.sip_default_company:
        result.warnings.append("no company has a phone number and no RECEPTIONIST_SIP_DEFAULT_COMPANY is set: "
                               "every SIP call would be refused")
    return result
