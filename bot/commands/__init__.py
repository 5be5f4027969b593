"""Subcommands of the `receptionist` CLI, one module each (see bot/cli.py)."""
