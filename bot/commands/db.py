"""`receptionist db upgrade|current|seed-demo|purge|forget-caller`: database maintenance from the shell."""

from __future__ import annotations

import click

from bot.settings import Settings
from bot.store.db import current_revision, get_engine, head_revision, init_db, session_scope
from bot.store.db import upgrade as run_upgrade
from bot.store.privacy import delete_caller_data, purge_expired
from bot.store.seed import seed_demo as run_seed
from bot.store.spool import spool_dir
from bot.store.validate import InvalidInput


@click.group()
def db() -> None:
    """Database: migrations, demo data, retention and DSGVO erasure."""


@db.command("upgrade")
def upgrade() -> None:
    """Migrate the database to the newest schema (also done automatically at every start)."""

    engine = get_engine(Settings())
    before = current_revision(engine)
    after = run_upgrade(engine)
    click.echo(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@db.command("current")
def current() -> None:
    """Show the schema revision of the database and the newest one known."""

    rev, head = current_revision(get_engine(Settings())), head_revision()
    click.echo(f"database revision {rev or 'none (empty database)'}, newest {head}")
    if rev != head:
        raise SystemExit(1)


@db.command("seed-demo")
def seed_demo() -> None:
    """Create the demo companies and the demo admin if missing, and print the demo login."""

    try:
        report = run_seed(Settings())
    except InvalidInput as exc:
        raise click.ClickException(str(exc)) from None
    if report.created:
        click.echo(f"demo companies created: {', '.join(report.created)}")
    if report.existing:
        click.echo(f"demo companies already there: {', '.join(report.existing)}")
    click.echo(report.credentials_text())


@db.command("purge")
def purge() -> None:
    """Delete transcripts, messages and recordings past each company's retention period."""

    settings = Settings()
    init_db(settings)
    with session_scope(settings) as session:
        r = purge_expired(session, spool_directory=spool_dir(settings))
    click.echo(f"anonymised {r.calls_anonymised} calls ({r.turns} transcript turns), deleted {r.messages} messages, "
               f"{r.faq_gaps} FAQ gaps, {r.recordings} recordings")
    for error in r.errors:
        click.echo(f"warning: {error}", err=True)


@db.command("forget-caller")
@click.argument("number")
def forget_caller(number: str) -> None:
    """Erase everything about the caller with phone NUMBER (DSGVO Art. 17)."""

    settings = Settings()
    init_db(settings)
    try:
        with session_scope(settings) as session:
            r = delete_caller_data(session, number, spool_dir(settings))
    except InvalidInput as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deleted {r.calls} calls ({r.turns} transcript turns), {r.messages} messages, "
               f"{r.faq_gaps} FAQ gaps, {r.recordings} recordings")
