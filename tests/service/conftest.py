"""Stores for the service tests: SQLite always, PostgreSQL when XXGK_TEST_DATABASE_URL names one (.ci/run starts a
local server and sets it; XXGK_REQUIRE_POSTGRES=1 there turns a missing server into a failure, not a skip)."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import DEV

PG_URL = os.environ.get("XXGK_TEST_DATABASE_URL")
SEED = DEV / "seed" / "source.txt"


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
