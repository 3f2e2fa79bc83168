"""Where the store lives: the data directory, the database URL, the engine, and migrations to the newest schema.

SQLite file ``<data dir>/xxgk.db`` by default; ``XXGK_DATABASE_URL`` (or an explicit URL) selects another
database, e.g. ``postgresql+psycopg://user@localhost/xxgk``.
"""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
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


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # pragma: no cover - trivial
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (Alembic ``upgrade head``)."""
    from alembic import command
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
