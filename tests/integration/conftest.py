"""Fixtures of the integration tests: a real server process (server_testing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from server_testing import Server


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    database = f"sqlite:///{tmp_path / 'server.db'}" if request.param == "sqlite" \
        else str(request.getfixturevalue("pg_url"))
    running = Server(database, tmp_path)
    yield running
    running.stop()
