"""Telefonsekretariat: the AI telephone secretary (call handling, web app, telephony)."""

__version__ = "0.1.0"
