"""`receptionist serve`: migrate the database, optionally seed the demo, and start the web server."""

from __future__ import annotations

import click

from bot.runtime.documents import seed_demo_documents
from bot.runtime.live_calls import WARM_UP, prepare_voice
from bot.settings import Settings
from bot.store.db import init_db
from bot.store.seed import seed_demo
from bot.web.app import create_app


@click.command()
@click.option("--host", default=None, help="Bind address (default RECEPTIONIST_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default RECEPTIONIST_PORT, 8000).")
@click.option("--demo", is_flag=True, help="Create the demo companies, their FAQ documents and an admin login, "
                                           "and print the login (what `make run` does).")
@click.option("--no-background", is_flag=True, help="Do not run the notification outbox and retention jobs here "
                                                    "(when a separate `receptionist outbox run` does).")
def serve(host: str | None, port: int | None, demo: bool, no_background: bool) -> None:
    """Start the web server: API, web UI, inbox, notification outbox and retention jobs."""
    import uvicorn


    settings = Settings()
    init_db(settings)
    if demo:

        report = seed_demo(settings)
        indexed = seed_demo_documents(settings)
        if report.created:
            click.echo(f"demo companies created: {', '.join(report.created)}")
        if indexed:
            click.echo("demo FAQ documents indexed: " + ", ".join(f"{k} ({v})" for k, v in indexed.items()))
    app = create_app(settings, background=not no_background)
    if not no_background:  # warm models and pre-synthesise audio while the server already answers (/readyz: 503)
        import threading

        app.state.readiness.expect(WARM_UP)
        threading.Thread(target=prepare_voice, args=(settings, app.state.readiness), name="prepare-voice",
                         daemon=True).start()
    host, port = host or settings.host, port or settings.port
    if demo:
        click.echo("")
        click.echo(f"  Web app:  http://{host}:{port}/")
        click.echo(f"  {report.credentials_text()}")
        click.echo("")
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)
