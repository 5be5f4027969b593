"""The `receptionist` command line: one group, subcommands registered from small modules.

Subcommand modules each define a click command or group and are listed in :data:`SUBCOMMANDS`; keeping the list
here (and not auto-discovering) makes the contract visible in one place. Commands that live outside the product
(``receptionist eval``, in ``evals/``, which the product never imports) plug in through the entry-point group
:data:`PLUGIN_GROUP` declared in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

import click

from bot import __version__

# (module, attribute) of each subcommand; the module is imported lazily so `receptionist --help` stays fast.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "company": ("bot.commands.company", "company"),
    "db": ("bot.commands.db", "db"),
    "call": ("bot.commands.call", "call"),
    "kb": ("bot.commands.kb", "kb"),
    "models": ("bot.commands.models", "models"),
    "outbox": ("bot.commands.outbox", "outbox"),
    "serve": ("bot.commands.serve", "serve"),
    "twilio": ("bot.commands.twilio", "twilio"),
    "sip": ("bot.commands.sip", "sip"),
    "bench": ("bot.commands.bench", "bench"),
}


PLUGIN_GROUP = "receptionist.commands"


def _plugins() -> dict[str, object]:
    """Installed plugin commands by name (entry points; loaded only when run)."""
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in SUBCOMMANDS}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*SUBCOMMANDS, *_plugins()])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in SUBCOMMANDS:
            module, attr = SUBCOMMANDS[name]
            return getattr(importlib.import_module(module), attr)
        plugin = _plugins().get(name)
        return plugin.load() if plugin is not None else None


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
