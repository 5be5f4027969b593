"""`receptionist twilio check`: settings, credentials and the URLs to enter in the Twilio console."""

from __future__ import annotations

import json
import sys

import click

from bot.runtime.carrier_services import default_services
from bot.settings import Settings
from bot.telephony.check import check_twilio


@click.group()
def twilio() -> None:
    """Phone numbers through Twilio."""


@twilio.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def check(as_json: bool) -> None:
    """Check public URL and credentials against the Twilio API; print the webhook URLs and the numbers served."""

    result = check_twilio(Settings(), default_services().resolver)
    if as_json:
        click.echo(json.dumps({"ok": result.ok, "problems": result.problems, "warnings": result.warnings,
                               "urls": result.urls, "numbers": result.numbers, "account": result.account}))
    else:
        if result.account:
            click.echo(f"Twilio account: {result.account}")
        for label, url in result.urls.items():
            click.echo(f"{label}: {url}")
        for number, slug in sorted(result.numbers.items()):
            click.echo(f"number {number} -> {slug}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}")
        for problem in result.problems:
            click.echo(f"problem: {problem}", err=True)
        if result.ok:
            click.echo("ready for Twilio")
    if not result.ok:
        sys.exit(1)
