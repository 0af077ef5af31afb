"""The store contract suites run every test against SQLite and a real PostgreSQL: `store` and
`other` are two stores (two connections: another process's view) on the test's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dockerflow.store import Store, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/state.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def connect(url: str) -> Iterator[Callable[[], Store]]:
    """Opens stores on the test's database; all of them are closed at the end."""
    opened: list[Store] = []

    def make() -> Store:
        store = open_store(url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(connect: Callable[[], Store]) -> Store:
    return connect()


@pytest.fixture
def other(connect: Callable[[], Store]) -> Store:
    return connect()
