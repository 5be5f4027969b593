"""Alembic migrations of the store (env.py, versions/); packaged so that installed copies can migrate."""
