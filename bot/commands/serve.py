"""`receptionist serve`: start the web server (what `make run` runs after seeding the demo companies)."""

from __future__ import annotations

import click

from bot.settings import Settings


@click.command()
@click.option("--host", default=None, help="Bind address (default RECEPTIONIST_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default RECEPTIONIST_PORT, 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Start the web server: API, web UI, browser call page, Twilio webhooks."""
    import uvicorn

    from bot.web.app import create_app

    settings = Settings()
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")
