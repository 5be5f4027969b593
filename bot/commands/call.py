"""`receptionist call COMPANY --text`: try a company's receptionist without a phone (``--wav``: voice pipeline)."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import click

from bot.settings import Settings


def _resolve_profile(company: str, profile_file: str | None):
    from bot.calls.profiles import ProfileError, demo_profile, load_profile

    try:
        if profile_file:
            profile = load_profile(profile_file)
        else:
            profile = demo_profile(company)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    if profile is None:
        raise click.ClickException(
            f"company {company!r} not found: no bot/demo/{company}/company.yaml; pass --profile FILE (YAML)")
    return profile


def _resolve_lookup(settings: Settings, company: str, factory: str | None):
    from bot.calls.lookup import KnowledgeUnavailable, make_lookup

    if factory:
        module, _, attr = factory.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)(settings, company)
        except (ImportError, AttributeError) as exc:
            raise click.ClickException(f"--lookup {factory}: {exc}") from None
    try:
        return make_lookup(settings, company)
    except KnowledgeUnavailable as exc:
        raise click.ClickException(str(exc)) from None


def _parse_at(at: str | None, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    if not at:
        return datetime.now(zone)
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not an ISO date-time like 2026-12-24T20:15", param_hint="--at") from None
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


@click.command("call")
@click.argument("company")
@click.option("--text", "text_mode", is_flag=True, help="Read caller turns from stdin, one per line; JSON lines out.")
@click.option("--wav", type=click.Path(dir_okay=False), help="A recorded caller (needs the voice pipeline).")
@click.option("--out", type=click.Path(dir_okay=False), help="With --wav: write the bot's audio here.")
@click.option("--at", "at_", metavar="ISO", help="Call time in the company's time zone, e.g. 2026-12-24T20:15.")
@click.option("--lang", type=click.Choice(["de", "en"]), help="Language the recogniser reports for each line.")
@click.option("--profile", "profile_file", type=click.Path(dir_okay=False),
              help="Company profile YAML (default: bot/demo/COMPANY/company.yaml).")
@click.option("--caller-id", help="The caller's number as the carrier would pass it.")
@click.option("--transfer-fails", is_flag=True, help="Simulate an unanswered transfer to the secretary.")
@click.option("--lookup", "lookup_factory", hidden=True, help="module:function(settings, company) -> lookup (tests).")
def call(company: str, text_mode: bool, wav: str | None, out: str | None, at_: str | None, lang: str | None,
         profile_file: str | None, caller_id: str | None, transfer_fails: bool, lookup_factory: str | None) -> None:
    """Run one call for COMPANY from text (--text) or a recording (--wav)."""
    if wav:
        raise click.ClickException("--wav needs the voice pipeline, which is not part of this build yet; use --text")
    if not text_mode:
        raise click.UsageError("choose --text (caller turns on stdin) or --wav FILE")
    from bot.brain.receptionist import Receptionist
    from bot.calls.sink import JsonlMessageSink
    from bot.calls.text import TextCallOptions, run_text_call_sync

    settings = Settings()
    profile = _resolve_profile(company, profile_file)
    lookup = _resolve_lookup(settings, profile.slug, lookup_factory)
    session = Receptionist.from_settings(profile, lookup, settings).session(caller_id=caller_id)
    sink = JsonlMessageSink(settings.resolved_data_dir / "messages.jsonl")
    options = TextCallOptions(start=_parse_at(at_, profile.timezone), language=lang, caller_id=caller_id,
                              transfer_answers=not transfer_fails)

    def emit(record: dict) -> None:
        click.echo(json.dumps(record, ensure_ascii=False))
        sys.stdout.flush()

    try:
        final = run_text_call_sync(session, sys.stdin, options, partial(sink, profile.slug), emit)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    emit(final)
