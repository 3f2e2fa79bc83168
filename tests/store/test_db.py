"""The store's database on SQLite and PostgreSQL: migrations to the newest schema, stores opened by URL."""

from __future__ import annotations

import hashlib
import sqlite3

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from service.store import crud, open_store, opened
from service.store.db import MIGRATIONS, make_engine, sqlite_url
from service.store.orm import Base


def test_migrations_are_idempotent_and_match_the_models(db_url):
    engine, _ = open_store(db_url)
    engine2, _ = open_store(db_url)  # a second start migrates nothing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()
    engine2.dispose()


def migrator(engine):
    """A function that migrates the store of ``engine`` to a revision (``step``: command.upgrade or downgrade)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def to(revision: str, step=command.upgrade) -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, revision)

    return to


def test_migration_0002_adds_coverage_to_a_store_with_reports(db_url):
    """A store made before coverage keeps its reports (coverage None); 0002 goes down and up again."""
    engine = make_engine(db_url)
    to = migrator(engine)

    to("0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO reports (id, sha256, filename, size, status, source, needs_review, "
                "failing_checks, version, created_at, updated_at) VALUES ('r1', 'abc', 'old.txt', 1, "
                "'done', 'upload', 0, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    to("0002")
    to("0001", command.downgrade)
    engine.dispose()
    with opened(db_url) as sessions, sessions() as s:  # migrates to head when opened
        old = crud.get_report(s, "r1")
        assert old.filename == "old.txt" and old.coverage is None and old.coverage_reasons is None
        assert crud.list_reports(s, coverage="partial")[1] == 0


def test_a_store_is_opened_by_url_for_one_command(tmp_path):
    url = sqlite_url(tmp_path / "x.db")
    assert url == f"sqlite:///{(tmp_path / 'x.db').resolve()}"
    with opened(url) as sessions, sessions() as s:
        assert crud.list_reports(s) == ([], 0)
    with sqlite3.connect(tmp_path / "x.db") as conn:  # created and migrated when opened
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0003",)


def test_migration_0003_adds_token_expiry_to_a_store_with_tokens(db_url):
    """A store made before expiry keeps its tokens working (expires_at None); 0003 goes down and up again."""
    engine = make_engine(db_url)
    to = migrator(engine)

    to("0002")
    token = "xxgk_made-before-expiry"
    with engine.begin() as conn:  # a token as a store of revision 0002 holds it (no expires_at column)
        conn.execute(
            text(
                "INSERT INTO tokens (name, role, token_sha256, created_at) "
                "VALUES ('before-expiry', 'uploader', :h, CURRENT_TIMESTAMP)"
            ),
            {"h": hashlib.sha256(token.encode()).hexdigest()},
        )
    to("0003")
    to("0002", command.downgrade)
    engine.dispose()
    with opened(db_url) as sessions, sessions() as s:  # migrates to head when opened
        row = crud.lookup_token(s, token)
        assert row is not None and row.expires_at is None
