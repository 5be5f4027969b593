"""Engine, sessions and migrations.

SQLite (the default, ``DATA_DIR/receptionist.db``) runs in WAL mode so the web app can read while a call writes,
with foreign keys enforced and ``synchronous=FULL`` so that a committed message survives a crash or power loss
(the bot tells the caller "saved" only after the commit). PostgreSQL is used through psycopg 3
(``postgresql+psycopg://…``; a bare ``postgresql://`` URL is rewritten to that driver).

The schema is owned by Alembic (``bot/store/migrations``); :func:`init_db` brings any database to the newest
revision and is safe to call at every start, also from several processes at once.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant: PostgreSQL advisory lock id that serialises concurrent migrations.
_PG_MIGRATION_LOCK = 0x7E1EF0
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def normalize_url(url: str) -> str:
    """Point bare PostgreSQL URLs at psycopg 3, the driver this project installs (SQLAlchemy defaults to psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url(settings: Settings) -> str:
    return normalize_url(settings.resolved_database_url)


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` with this project's connection settings (prefer :func:`get_engine`)."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(settings: Settings) -> Engine:
    """The process-wide engine for the settings' database (one pool shared by web app, calls and jobs)."""
    url = database_url(settings)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, and before forking worker processes)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(settings: Settings) -> sessionmaker[Session]:
    # expire_on_commit=False: objects returned by the repo functions stay readable after their commit.
    return sessionmaker(bind=get_engine(settings), expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session that is rolled back on error and always closed; the code inside commits what it wants kept."""
    session = session_factory(settings)()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """An Alembic config for ``url`` without an ini file (the CLI and :func:`init_db` both use it)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations across processes: a file lock beside a SQLite file (PostgreSQL locks in env.py)."""
    database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class MigrationError(RuntimeError):
    """A migration left rows that point at nothing (SQLite foreign-key check after the table copies)."""


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction for the migration. On SQLite, foreign keys are off meanwhile: its ALTER works by copying a
    table and dropping the old one, and with foreign keys on, dropping ``companies`` would cascade-delete every
    message and call that points at it. The keys are checked once the copies are done and switched on again."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction, or SQLite ignores it
            conn.commit()
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise MigrationError(f"the migration left {len(broken)} rows with a broken reference "
                                             f"(first: {broken[0]}); nothing was changed")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database behind ``engine`` to ``revision``; returns the revision it is at afterwards."""
    from alembic import command

    with _migration_lock(engine), _migration_connection(engine) as conn:
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return current_revision(engine)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Migrate back to ``revision`` ("base" = empty); for developers testing a migration, never run at start."""
    from alembic import command

    with _migration_lock(engine), _migration_connection(engine) as conn:
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    return current_revision(engine)


def init_db(settings: Settings) -> Engine:
    """Bring the database to the newest schema (idempotent, cheap when already current) and return its engine."""
    engine = get_engine(settings)
    if current_revision(engine) != head_revision():
        upgrade(engine)
    return engine


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
