"""Stores for the service tests: SQLite always, PostgreSQL when XXGK_TEST_DATABASE_URL names one (.ci/run starts a
local server and sets it; XXGK_REQUIRE_POSTGRES=1 there turns a missing server into a failure, not a skip). And the
seed report with its table 4 left out (a partial report), which the store, API, batch and UI tests upload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import DEV

PG_URL = os.environ.get("XXGK_TEST_DATABASE_URL")
SEED = DEV / "seed" / "source.txt"


def without_table4(dest: Path) -> Path:
    """The seed report with its section 四 (table 4, the last table) left out: a partial report."""
    source = SEED.read_text(encoding="utf-8")
    start, end = source.index("四、政府信息公开行政复议、行政诉讼情况"), source.index("五、存在的主要问题及改进情况")
    dest.write_text(source[:start] + source[end:], encoding="utf-8")
    return dest


def reset_postgres(url: str) -> None:
    """Drop every table of the PostgreSQL database at ``url``."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def backends() -> list:
    """The parameters of a fixture run on each database: "sqlite", and "postgresql" where one is set."""
    required = bool(PG_URL or os.environ.get("XXGK_REQUIRE_POSTGRES"))
    skip = pytest.mark.skip(reason="no PostgreSQL: set XXGK_TEST_DATABASE_URL (.ci/run does)")
    return ["sqlite", pytest.param("postgresql", marks=[] if required else [skip])]


def fresh_database(kind: str, folder: Path) -> str:
    """The URL of an empty database of ``kind``: a SQLite file in ``folder``, or the PostgreSQL database emptied."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'xxgk.db'}"
    if not PG_URL:
        pytest.fail("XXGK_REQUIRE_POSTGRES is set but XXGK_TEST_DATABASE_URL is not")
    reset_postgres(PG_URL)
    return PG_URL
