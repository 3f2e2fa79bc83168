"""Stores for the service tests: SQLite always, PostgreSQL when XXGK_TEST_DATABASE_URL names one (.ci/run starts a
local server and sets it; XXGK_REQUIRE_POSTGRES=1 there turns a missing server into a failure, not a skip)."""
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
    text = SEED.read_text(encoding="utf-8")
    start, end = text.index("四、政府信息公开行政复议、行政诉讼情况"), text.index("五、存在的主要问题及改进情况")
    dest.write_text(text[:start] + text[end:], encoding="utf-8")
    return dest


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _backends() -> list:
    pg = pytest.param("postgresql", marks=[] if PG_URL or os.environ.get("XXGK_REQUIRE_POSTGRES") else
                      [pytest.mark.skip(reason="no PostgreSQL: set XXGK_TEST_DATABASE_URL (.ci/run does)")])
    return ["sqlite", pg]


@pytest.fixture(params=_backends())
def db_url(request, tmp_path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'xxgk.db'}"
    if not PG_URL:
        pytest.fail("XXGK_REQUIRE_POSTGRES is set but XXGK_TEST_DATABASE_URL is not")
    _reset_postgres(PG_URL)
    return PG_URL
