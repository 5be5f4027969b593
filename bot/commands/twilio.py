"""`receptionist twilio check`: settings, credentials and the URLs to enter in the Twilio console."""

from __future__ import annotations

import click

from bot.commands.carrier_check import report
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
    lines = ([f"Twilio account: {result.account}"] if result.account else []) + [
        f"{label}: {url}" for label, url in result.urls.items()]
    report(result, as_json=as_json, facts={"urls": result.urls, "account": result.account}, lines=lines,
           ready="ready for Twilio")
