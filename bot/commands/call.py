"""`receptionist call COMPANY --text`: try a company's receptionist without a phone (``--wav``: voice pipeline)."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from bot.runtime.call_sessions import open_session
from bot.pipeline.brain_adapter import CallActions, SessionResponder
from bot.runtime.companies import ProfileError, demo_profile, load_profile
from bot.runtime.documents import seed_demo_documents
from bot.runtime.knowledge import make_lookup
from bot.runtime.live_calls import StoreCallLog
from bot.runtime.text_call import TextCallOptions, run_text_call_sync
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from bot.store.recorder import CallRecorder
from bot.store.seed import seed_companies


def _resolve_profile(settings: Settings, company: str, profile_file: str | None):
    """The company's profile: from --profile FILE, else the database (demo companies are seeded on first use).

    Either way the company exists in the database afterwards, so messages and the call record can be saved.
    """

    init_db(settings)
    if profile_file:
        try:
            profile = load_profile(profile_file)
        except ProfileError as exc:
            raise click.ClickException(str(exc)) from None
        with session_scope(settings) as session:
            repo.ensure_company(session, profile.slug, profile.name)
        return profile
    with session_scope(settings) as session:
        row = repo.get_company(session, company)
        if row is None and demo_profile(company) is not None:

            seed_companies(settings)
            seed_demo_documents(settings)  # a demo company comes with its FAQ documents, as under `serve --demo`
            row = repo.get_company(session, company)
        if row is None:
            raise click.ClickException(
                f"company {company!r} not found: create it with `receptionist company add {company} --name …` "
                f"(or `receptionist kb add {company} FILE…`), or pass --profile FILE (YAML)")
        return repo.company_profile(row)


def _resolve_lookup(settings: Settings, company: str, factory: str | None):
    if factory:
        module, _, attr = factory.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)(settings, company)
        except (ImportError, AttributeError) as exc:
            raise click.ClickException(f"--lookup {factory}: {exc}") from None
    return make_lookup(settings, company)


def _parse_at(at: str | None, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    if not at:
        return datetime.now(zone)
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise click.BadParameter(f"{at!r} is not an ISO date-time like 2026-12-24T20:15", param_hint="--at") from None
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


def _wav_call(company: str, wav: str, out: str | None, profile_file: str | None, caller_id: str | None,
              lookup_factory: str | None) -> None:
    """The whole call through the real voice pipeline, recorded in the store like a phone call."""
    import uuid

    from bot.commands.call_wav import run_wav_call

    settings = Settings()
    profile = _resolve_profile(settings, company, profile_file)
    lookup = _resolve_lookup(settings, profile.slug, lookup_factory)
    responder = SessionResponder(open_session(settings, profile, lookup, caller_id=caller_id))
    call_log = StoreCallLog(settings, f"cli-{uuid.uuid4().hex}", profile.slug, "cli", caller_id)
    run_wav_call(profile, wav, out, settings, responder=responder, recorder=call_log,
                 actions=CallActions(save_message=call_log.save_message))


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
    if wav and text_mode:
        raise click.UsageError("choose one of --text and --wav")
    if wav:
        _wav_call(company, wav, out, profile_file, caller_id, lookup_factory)
        return
    if out:
        raise click.UsageError("--out needs --wav")
    if not text_mode:
        raise click.UsageError("choose --text (caller turns on stdin) or --wav FILE")

    settings = Settings()
    profile = _resolve_profile(settings, company, profile_file)
    lookup = _resolve_lookup(settings, profile.slug, lookup_factory)
    session = open_session(settings, profile, lookup, caller_id=caller_id)
    options = TextCallOptions(start=_parse_at(at_, profile.timezone), language=lang, caller_id=caller_id,
                              transfer_answers=not transfer_fails)
    recorder = CallRecorder(settings, profile.slug, channel="cli", caller_number=caller_id, language=lang)
    recorder.start()

    def emit(record: dict) -> None:
        click.echo(json.dumps(record, ensure_ascii=False))
        sys.stdout.flush()
        if "bot" in record:  # a turn: keep the transcript like any other call
            if record.get("caller"):
                recorder.turn("caller", record["caller"], language=record.get("language"))
            recorder.turn("bot", record["bot"], language=record.get("language"), intent=record.get("intent"),
                          entry_question=record.get("entry_question"))
            if record.get("intent") == "not_covered" and record.get("caller"):
                recorder.faq_gap(record["caller"], record.get("language"))  # shown on the FAQ-gap page
            if "stop_recording" in (record.get("action") or "").split("+"):
                recorder.recording_objected()

    try:
        # the store commits the message (and its notifications) before the brain's confirmation is spoken
        final = run_text_call_sync(session, sys.stdin, options, lambda message: recorder.save_message(message), emit)
    except ValueError as exc:
        recorder.finish("abandoned", summary=f"input error: {exc}")
        recorder.close()
        raise click.ClickException(str(exc)) from None
    recorder.finish(final["outcome"], transferred_to=final["transferred_to"])
    recorder.close()
    emit(final)
