"""The store's database on SQLite and PostgreSQL: migrations to the newest schema, stores opened by URL."""

from __future__ import annotations

import hashlib
import sqlite3

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from service.store import crud, open_store, opened
from service.store.db import MIGRATIONS, make_engine, sqlite_url
from service.store.orm import Base

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()  # the newest revision (one head: no branches)


def test_migrations_are_idempotent_and_match_the_models(db_url):
    assert HEAD is not None and HEAD >= "0004"
    engine, _ = open_store(db_url)
    engine2, _ = open_store(db_url)  # a second start migrates nothing
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
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
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)


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


def test_migration_0004_adds_tenancy_to_a_store_with_reports_and_tokens(db_url):
    """A store made before tenancy: its tokens stay unbound (every report), its reports read before keep their
    agency, now matched by key (a token bound to that agency sees them); 0004 goes down and up again."""
    engine = make_engine(db_url)
    to = migrator(engine)

    to("0003")
    token = "xxgk_made-before-tenancy"
    with engine.begin() as conn:  # a report read and a token as a store of revision 0003 holds them
        conn.execute(
            text(
                "INSERT INTO reports (id, sha256, filename, size, status, source, agency, year, needs_review, "
                "failing_checks, version, created_at, updated_at) VALUES ('r1', 'abc', 'old.txt', 1, 'done', "
                "'upload', '上海市 人民政府办公厅', 2019, 0, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO tokens (name, role, token_sha256, created_at) "
                "VALUES ('before-tenancy', 'reviewer', :h, CURRENT_TIMESTAMP)"
            ),
            {"h": hashlib.sha256(token.encode()).hexdigest()},
        )
    to("0004")
    to("0003", command.downgrade)
    to("0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT agency_key FROM reports WHERE id = 'r1'")).scalar() == "上海市人民政府办公厅"
    engine.dispose()
    with opened(db_url) as sessions, sessions() as s:
        row = crud.lookup_token(s, token)
        assert row is not None and row.agencies is None
        assert crud.get_report(s, "r1", crud.scope_of(["上海市人民政府办公厅"])).filename == "old.txt"
        assert crud.list_reports(s, scope=crud.scope_of(["平潭综合实验区"]))[1] == 0


def test_migration_0005_records_the_extractions_a_store_already_holds(db_url):
    """A store made before extractions: each done report's machine result is recorded as its (content, pipeline
    version) extraction, so a cluster run that finds it stores nothing again; a report not done gets none; 0005 goes
    down and up again."""
    engine = make_engine(db_url)
    to = migrator(engine)
    to("0004")
    with engine.begin() as conn:
        for rid, sha, status, version in (("r1", "a" * 64, "done", 2), ("r2", "b" * 64, "failed", 0)):
            conn.execute(
                text(
                    "INSERT INTO reports (id, sha256, filename, size, status, source, pipeline_version, needs_review, "
                    "failing_checks, version, created_at, updated_at) VALUES (:id, :sha, 'f.txt', 1, :st, 'upload', "
                    "'2.4', 0, 0, :v, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": rid, "sha": sha, "st": status, "v": version},
            )
        for version, kind in ((1, "machine"), (2, "correction")):
            conn.execute(
                text(
                    "INSERT INTO result_versions (report_id, version, kind, result, created_by, created_at) "
                    "VALUES ('r1', :v, :k, '{}', 'machine', CURRENT_TIMESTAMP)"
                ),
                {"v": version, "k": kind},
            )
    to("0005")
    to("0004", command.downgrade)
    to("0005")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sha256, pipeline_version, report_id, version FROM extractions")).all()
        assert [tuple(r) for r in rows] == [("a" * 64, "2.4", "r1", 1)]  # the machine's version, not the correction
    engine.dispose()
