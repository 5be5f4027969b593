"""Persistence: companies, users, calls and transcripts, hand-off messages, the notification outbox, FAQ gaps.

Other parts call the functions in :mod:`bot.store.repo`; the schema lives in :mod:`bot.store.models` and is
migrated by Alembic through :func:`bot.store.db.init_db`.
"""
