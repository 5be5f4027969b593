"""The `receptionist` command line: one group, subcommands registered from small modules.

Subcommand modules each define a click command or group and are listed in :data:`SUBCOMMANDS`; keeping the list
here (and not auto-discovering) makes the contract visible in one place.
"""

from __future__ import annotations

import importlib
import logging

import click

from bot import __version__

# (module, attribute) of each subcommand; the module is imported lazily so `receptionist --help` stays fast.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("bot.commands.eval", "eval_group"),
    "company": ("bot.commands.company", "company"),
    "db": ("bot.commands.db", "db"),
    "call": ("bot.commands.call", "call"),
    "kb": ("bot.commands.kb", "kb"),
    "models": ("bot.commands.models", "models"),
    "outbox": ("bot.commands.outbox", "outbox"),
    "serve": ("bot.commands.serve", "serve"),
    "twilio": ("bot.commands.twilio", "twilio"),
    "bench": ("bot.commands.bench", "bench"),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module, attr = SUBCOMMANDS[name]
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="receptionist")
@click.option("-v", "--verbose", is_flag=True, help="Log debug output to stderr.")
def cli(verbose: bool) -> None:
    """Telefonsekretariat: local-first AI telephone secretary."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    cli(prog_name="receptionist")


if __name__ == "__main__":
    main()
