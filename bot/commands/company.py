"""`receptionist company add/set/show/list`: company settings from the shell (scriptable; the web app edits the same).

Every value is checked before anything is written; one bad value fails the whole command with a plain-words error
and a non-zero exit, and the database stays as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from bot.runtime import webhook_targets
from bot.settings import Settings
from bot.store.companies import (
    NotFound,
    company_to_dict,
    create_company,
    ensure_company,
    get_company,
    list_companies,
    resolve,
    update_company,
)
from bot.store.db import init_db, session_scope
from bot.store.validate import InvalidInput

# (option name, click type, help). Each becomes --option-name for `add` and `set`.
_OPTIONS: list[tuple[str, Any, str]] = [
    ("name", str, "Company name as the bot speaks it (\"Praxis Dr. Berger\")."),
    ("language", str, "Default language of the greeting: de or en."),
    ("languages", str, "Languages the bot speaks with callers, comma-separated (de,en)."),
    ("greeting-de", str, "German greeting; empty = the standard one (always discloses the AI)."),
    ("greeting-en", str, "English greeting; empty = the standard one."),
    ("timezone", str, "IANA time zone of the office hours (Europe/Berlin)."),
    ("bundesland", str, "German state code for public holidays (BY, NW, BE, …); empty = nationwide only."),
    ("office-hours", str, "Opening hours, e.g. \"mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00\"."),
    ("secretary", str, "Phone number live transfers go to (any format; stored as E.164)."),
    ("secretary-name", str, "How the bot names the secretary (\"Frau Berger\")."),
    ("email", str, "Address that receives every new message."),
    ("webhook-url", str, "URL that receives every new message as signed JSON."),
    ("webhook-secret", str, "HMAC key for the webhook signature."),
    ("retention-days", click.IntRange(1, 3650), "Days until transcripts, messages and recordings are deleted."),
    ("voice-de", str, "Piper voice file (.onnx) for German; empty = deployment default."),
    ("voice-en", str, "Piper voice file (.onnx) for English; empty = deployment default."),
    ("speaking-rate", float, "Speech speed, 0.5–2.0 (1.0 = natural)."),
]
# CLI option -> company field where the names differ
_FIELD = {"language": "default_language", "secretary": "secretary_number"}


def _company_options(for_set: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--remove-phone", "remove_phones", multiple=True,
                            help="Number that no longer reaches the company (repeatable).")(func) if for_set else func
        func = click.option("--phone", "phones", multiple=True,
                            help="Number that reaches the company (repeatable; any format).")(func)
        func = click.option("--english-only/--no-english-only", default=None,
                            help="Only English callers (uses the faster English recogniser).")(func)
        func = click.option("--recording/--no-recording", default=None,
                            help="Keep call audio for the retention period (off by default, DSGVO).")(func)
        for name, type_, help_ in reversed(_OPTIONS):
            func = click.option(f"--{name}", name.replace("-", "_"), type=type_, default=None, help=help_)(func)
        return func

    return decorate


def _fields(options: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, _type, _help in _OPTIONS:
        key = name.replace("-", "_")
        if options.get(key) is not None:
            fields[_FIELD.get(key, key)] = options[key]
    if options.get("recording") is not None:
        fields["recording_enabled"] = options["recording"]
    if options.get("english_only") is not None:
        fields["english_only"] = options["english_only"]
    if fields.get("webhook_url"):
        try:  # the same rule as the web app: a webhook into the server's own network needs the setting
            webhook_targets.check_saved_url(fields["webhook_url"].strip(), Settings().webhook_allow_private)
        except webhook_targets.TargetRefused as exc:
            raise click.ClickException(str(exc)) from None
    return fields


def _run(action: Callable[[Any], Any]) -> Any:
    """Run ``action(session)`` on a migrated database; store errors become a clean CLI error (exit 1)."""

    settings = Settings()
    init_db(settings)
    try:
        with session_scope(settings) as session:
            return action(session)
    except (InvalidInput, NotFound) as exc:
        raise click.ClickException(str(exc)) from None


def _describe(data: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        if value is None or value == "" or value == []:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return str(value)

    rows = [("company", f"{data['slug']} ({data['name']})"), ("phone numbers", show(data["phone_numbers"])),
            ("languages", f"{show(data['languages'])} (default {data['default_language']})"),
            ("greeting (de)", show(data["greeting_de"])), ("greeting (en)", show(data["greeting_en"])),
            ("time zone", data["timezone"]), ("Bundesland", show(data["bundesland"])),
            ("office hours", show(data["office_hours"])),
            ("secretary", f"{show(data['secretary_number'])} ({show(data['secretary_name'])})"),
            ("e-mail", show(data["email"])),
            ("webhook", f"{show(data['webhook_url'])} (secret {'set' if data['webhook_secret_set'] else 'not set'})"),
            ("retention", f"{data['retention_days']} days"), ("recording", show(data["recording_enabled"])),
            ("English only", show(data["english_only"])),
            ("voices", f"de {show(data['voice_de'])}, en {show(data['voice_en'])}, rate {data['speaking_rate']}")]
    return "\n".join(f"{label:14} {value}" for label, value in rows)


@click.group()
def company() -> None:
    """Client companies: name, greeting, languages, office hours, numbers, secretary, notifications."""


@company.command("add")
@click.argument("slug")
@_company_options(for_set=False)
def add(slug: str, phones: tuple[str, ...], **options: Any) -> None:
    """Create company SLUG (lower-case letters, digits, hyphens); unset options get sensible defaults."""

    data = _run(lambda s: company_to_dict(create_company(s, slug, phones=phones, **_fields(options))))
    click.echo(f"created company {data['slug']}")
    click.echo(_describe(data))


@company.command("set")
@click.argument("slug")
@_company_options(for_set=True)
def set_(slug: str, phones: tuple[str, ...], remove_phones: tuple[str, ...], **options: Any) -> None:
    """Change settings of company SLUG; options not given stay as they are (an empty value clears one)."""

    fields = _fields(options)
    if not fields and not phones and not remove_phones:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    data = _run(lambda s: company_to_dict(update_company(s, slug, add_phones=phones, remove_phones=remove_phones,
                                                         **fields)))
    click.echo(f"updated company {data['slug']}")
    click.echo(_describe(data))


@company.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as one JSON object.")
def show(slug: str, as_json: bool) -> None:
    """Show all settings of company SLUG."""

    data = _run(lambda s: company_to_dict(resolve(s, slug)))
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else _describe(data))


@company.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per company.")
def list_(as_json: bool) -> None:
    """List all companies with their numbers."""

    rows = _run(lambda s: [company_to_dict(c) for c in list_companies(s)])
    if as_json:
        for data in rows:
            click.echo(json.dumps(data, ensure_ascii=False))
        return
    if not rows:
        click.echo("no companies yet: `receptionist company add SLUG --name \"…\"` creates one")
        return
    for data in rows:
        numbers = ", ".join(data["phone_numbers"]) or "no number"
        click.echo(f"{data['slug']:24} {data['name']:32} {'/'.join(data['languages']):6} {numbers}")


@company.command("ensure")
@click.argument("slug")
@click.option("--name", default=None, help="Name if the company has to be created (default: from the slug).")
def ensure(slug: str, name: str | None) -> None:
    """Create company SLUG with defaults unless it exists; never changes an existing one (for scripts)."""

    def action(session):  # type: ignore[no-untyped-def]
        existed = get_company(session, slug) is not None
        return existed, company_to_dict(ensure_company(session, slug, name))

    existed, data = _run(action)
    click.echo(f"company {data['slug']} {'exists' if existed else 'created'} ({data['name']})")
