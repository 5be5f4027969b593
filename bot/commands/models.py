"""`receptionist models check`: list every model with path, size and hash status; non-zero exit on any problem."""

from __future__ import annotations

import json
import sys

import click

from bot.models import check_all
from bot.settings import Settings


@click.group()
def models() -> None:
    """Local model files (speech recognition, voices, embeddings, VAD)."""


@models.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model instead of a table.")
def check(as_json: bool) -> None:
    """Verify every model by sha256 (joins the Whisper parts into the data dir on first use)."""
    results = check_all(Settings())
    if as_json:
        for r in results:
            click.echo(json.dumps({"name": r.name, "purpose": r.purpose, "path": r.path, "size": r.size,
                                   "sha256": r.sha256, "status": r.hash_status, "ok": r.ok, "problem": r.problem}))
    else:
        for r in results:
            size = f"{r.size / 1e6:8.1f} MB" if r.size is not None else "       - MB"
            click.echo(f"{'OK ' if r.ok else 'BAD'} {r.name:24} {size}  {r.hash_status:22} {r.path}")
            click.echo(f"    {r.purpose}")
            if r.problem:
                click.echo(f"    problem: {r.problem}")
    bad = [r for r in results if not r.ok]
    if bad:
        click.echo(f"{len(bad)} model(s) not usable: {', '.join(r.name for r in bad)}", err=True)
        sys.exit(1)
    if not as_json:
        click.echo(f"all {len(results)} models verified")
