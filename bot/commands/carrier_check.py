"""How `receptionist twilio check` and `receptionist sip check` report: one JSON object, or plain lines, and exit 1
on any problem. Both checks share the shape (ok, problems, warnings, numbers); each adds its own facts first."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def report(result: Any, *, as_json: bool, facts: dict[str, Any], lines: list[str], ready: str) -> None:
    """Print ``result`` (problems on stderr), with ``facts`` in the JSON and ``lines`` before the numbers."""
    if as_json:
        click.echo(json.dumps({"ok": result.ok, "problems": result.problems, "warnings": result.warnings,
                               **facts, "numbers": result.numbers}))
    else:
        for line in lines:
            click.echo(line)
        for number, slug in sorted(result.numbers.items()):
            click.echo(f"number {number} -> {slug}")
        for warning in result.warnings:
            click.echo(f"warning: {warning}")
        for problem in result.problems:
            click.echo(f"problem: {problem}", err=True)
        if result.ok:
            click.echo(ready)
    if not result.ok:
        sys.exit(1)
