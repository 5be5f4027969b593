"""`receptionist sip check`: SIP settings, and a real REGISTER with the configured credentials."""

from __future__ import annotations

import asyncio
import json
import sys

import click

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
    if as_json:
        click.echo(json.dumps({"ok": result.ok, "problems": result.problems, "warnings": result.warnings,
                               "registered": result.registered, "numbers": result.numbers}))
    else:
        if result.registered:
            click.echo(f"registered: {result.registered}")
        for number, slug in sorted(result.numbers.items()):
            click.echo(f"number {number} -> {slug}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}")
        for problem in result.problems:
            click.echo(f"problem: {problem}", err=True)
        if result.ok:
            click.echo("ready for SIP")
    if not result.ok:
        sys.exit(1)
