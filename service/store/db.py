"""Where the store lives: the data directory, the database URL, the engines, and migrations to the newest schema.

SQLite file ``<data dir>/xxgk.db`` by default; ``XXGK_DATABASE_URL`` (or an explicit URL) selects another
database, e.g. ``postgresql+psycopg://user@localhost/xxgk``. The service reads through an asyncio engine on the
same database (aiosqlite, asyncpg: :func:`make_async_engine`); everything else uses the plain engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def data_dir(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``XXGK_DATA_DIR``, else ``~/.local/share/xxgk`` (created)."""
    value = explicit or os.environ.get("XXGK_DATA_DIR") or Path.home() / ".local" / "share" / "xxgk"
    path = Path(value).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(data: Path, explicit: str | None = None) -> str:
    return explicit or os.environ.get("XXGK_DATABASE_URL") or f"sqlite:///{data / 'xxgk.db'}"


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def _sqlite_pragmas(engine: Engine) -> None:
    """Every SQLite connection in WAL mode (readers never wait for the writer), with foreign keys and a 30 s wait for
    the write lock."""

    @event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_pragmas(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> URL:
    """The same database through its asyncio driver: aiosqlite for SQLite, asyncpg for PostgreSQL."""
    u = make_url(url)
    driver = ASYNC_DRIVERS.get(u.get_backend_name())
    if driver is None:
        raise ValueError(f"no asyncio driver for {u.get_backend_name()} (known: {', '.join(ASYNC_DRIVERS)})")
    return u.set(drivername=driver)


def make_async_engine(url: str) -> AsyncEngine:
    """An asyncio engine on the database at ``url`` (the service's reads: the event loop awaits the database instead
    of waiting on it). Its tables are those :func:`open_store` migrated."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(target, connect_args={"timeout": 30})
        _sqlite_pragmas(engine.sync_engine)
        return engine
    return create_async_engine(target, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic ``upgrade head``)."""
    from alembic import command  # alembic is needed only here: loaded when a store is opened
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def open_store(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory for ``url``, migrated to the newest schema."""
    engine = make_engine(url)
    migrate(engine)
    return engine, session_factory(engine)


@contextmanager
def opened(url: str) -> Iterator[sessionmaker[Session]]:
    """The store at ``url`` (migrated) for the length of one command: its session factory; the engine is disposed
    of at the end."""
    engine, sessions = open_store(url)
    try:
        yield sessions
    finally:
        engine.dispose()
