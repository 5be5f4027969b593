"""`receptionist outbox run [--once]`: deliver notification e-mails and webhooks from the outbox.

`receptionist outbox drain`: move the calls' spooled messages (DATA_DIR/spool) into the database; `run` does it too.
"""

from __future__ import annotations

import click

from bot.runtime.outbox import run_once
from bot.settings import Settings
from bot.store.db import init_db, session_scope
from bot.store.outbox import pending
from bot.store.spool_drain import drain


@click.group()
def outbox() -> None:
    """Notification outbox: e-mails and webhooks for new messages."""


@outbox.command("run")
@click.option("--once", is_flag=True, help="Deliver what is due now and exit (default: keep running).")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between runs when not --once.")
def run(once: bool, interval: float) -> None:
    """Deliver due notifications; failed ones are retried with backoff and never dropped."""
    import time


    settings = Settings()
    init_db(settings)
    while True:
        drain(settings)  # spooled messages first: their notifications are written with them
        report = run_once(settings)
        if once:
            click.echo(f"sent {report.sent}, failed {report.failed} (retried later)")
            raise SystemExit(1 if report.failed else 0)
        time.sleep(interval)


@outbox.command("status")
def status() -> None:
    """How many notifications are waiting, and the last error of each."""

    settings = Settings()
    init_db(settings)
    with session_scope(settings) as session:
        items = pending(session)
        click.echo(f"{len(items)} pending")
        for item in items:
            click.echo(f"  #{item.id} {item.kind} attempts={item.attempts} next={item.next_attempt_at:%Y-%m-%d %H:%M:%S}"
                       f" {item.last_error or ''}")


@outbox.command("drain")
def drain_spool() -> None:
    """Move spooled messages into the database now (exit 1 while some are still waiting)."""

    settings = Settings()
    init_db(settings)
    report = drain(settings)
    click.echo(f"moved {report.moved}, already stored {report.duplicates}, dropped {report.dropped} "
               f"(company deleted), still spooled {report.left}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    raise SystemExit(1 if report.left else 0)
