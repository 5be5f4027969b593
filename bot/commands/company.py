"""`receptionist company add/set/show/list`: company settings from the shell (scriptable; the web app edits the same).

Every value is checked before anything is written; one bad value fails the whole command with a plain-words error
and a non-zero exit, and the database stays as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from bot.brain.company_fields import COMPANY_FIELDS, CompanyField
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

def _option_type(f: CompanyField) -> Any:
    if f.kind == "int":
        return click.IntRange(int(f.ge), int(f.le)) if f.ge is not None and f.le is not None else int
    return float if f.kind == "float" else str


def _company_options(for_set: bool, fields: tuple[CompanyField, ...] = COMPANY_FIELDS
                     ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--<option>`` for every company field that has a CLI name (flags as ``--x/--no-x``), plus the phones."""
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--remove-phone", "remove_phones", multiple=True,
                            help="Number that no longer reaches the company (repeatable).")(func) if for_set else func
        func = click.option("--phone", "phones", multiple=True,
                            help="Number that reaches the company (repeatable; any format).")(func)
        for f in reversed([f for f in fields if f.cli]):
            dest = f.cli.replace("-", "_")
            if f.kind == "flag":
                func = click.option(f"--{f.cli}/--no-{f.cli}", dest, default=None, help=f.cli_help)(func)
            else:
                func = click.option(f"--{f.cli}", dest, type=_option_type(f), default=None, help=f.cli_help)(func)
        return func

    return decorate


def _fields(options: dict[str, Any], fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Any]:
    """The company fields the options set (option names that differ from field names mapped back)."""
    chosen = {f.name: options[f.cli.replace("-", "_")] for f in fields
              if f.cli and options.get(f.cli.replace("-", "_")) is not None}
    if chosen.get("webhook_url"):
        try:  # the same rule as the web app: a webhook into the server's own network needs the setting
            webhook_targets.check_saved_url(chosen["webhook_url"].strip(), Settings().webhook_allow_private)
        except webhook_targets.TargetRefused as exc:
            raise click.ClickException(str(exc)) from None
    return chosen


def _run(action: Callable[[Any], Any]) -> Any:
    """Run ``action(session)`` on a migrated database; store errors become a clean CLI error (exit 1)."""

    settings = Settings()
    init_db(settings)
    try:
        with session_scope(settings) as session:
            return action(session)
    except (InvalidInput, NotFound) as exc:
        raise click.ClickException(str(exc)) from None


def _describe(data: dict[str, Any], fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> str:
    def show(value: Any) -> str:
        if value is None or value == "" or value == []:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return str(value)

    used: set[str] = set()

    def v(key: str) -> Any:
        used.add(key)
        return data[key]

    rows = [("company", f"{v('slug')} ({v('name')})"), ("phone numbers", show(v('phone_numbers'))),
            ("languages", f"{show(v('languages'))} (default {v('default_language')})"),
            ("greeting (de)", show(v('greeting_de'))), ("greeting (en)", show(v('greeting_en'))),
            ("time zone", v('timezone')), ("Bundesland", show(v('bundesland'))),
            ("office hours", show(v('office_hours'))),
            ("secretary", f"{show(v('secretary_number'))} ({show(v('secretary_name'))})"),
            ("e-mail", show(v('email'))),
            ("webhook", f"{show(v('webhook_url'))} (secret {'set' if data['webhook_secret_set'] else 'not set'})"),
            ("retention", f"{v('retention_days')} days"), ("recording", show(v('recording_enabled'))),
            ("English only", show(v('english_only'))),
            ("voices", f"de {show(v('voice_de'))}, en {show(v('voice_en'))}, rate {v('speaking_rate')}")]
    # settings without a row of their own above (a newly added one) are listed by the name the model gives them
    rows += [(f.what, show(data[f.name])) for f in fields if f.output and f.setting and f.name not in used]
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
