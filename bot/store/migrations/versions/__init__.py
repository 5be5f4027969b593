"""Alembic revisions, one file each, applied in order by bot.store.db.init_db."""
