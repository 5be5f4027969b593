"""`receptionist sip check`: SIP settings, and a real REGISTER with the configured credentials."""

from __future__ import annotations

import asyncio

import click

from bot.commands.carrier_check import report
from bot.runtime.carrier_services import default_services
from bot.settings import Settings
from bot.telephony.sip.check import check_sip


@click.group()
def sip() -> None:
    """Phone calls through a SIP trunk or a Fritz!Box (sipgate, Telekom, easybell)."""


@sip.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def check(as_json: bool) -> None:
    """Check the SIP settings and register once at the registrar (digest auth); print the numbers served."""

    result = asyncio.run(check_sip(Settings(), default_services().resolver))
    report(result, as_json=as_json, facts={"registered": result.registered},
           lines=[f"registered: {result.registered}"] if result.registered else [], ready="ready for SIP")
