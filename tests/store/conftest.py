from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from service.store import opened
from tests.store.helpers import backends, fresh_database


@pytest.fixture(params=backends())
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty database of each kind."""
    return fresh_database(request.param, tmp_path)


@pytest.fixture
def store(db_url: str) -> Iterator[sessionmaker[Session]]:
    """The store on each kind of database: its session factory."""
    with opened(db_url) as sessions:
        yield sessions
