"""Shared fixtures: a Docker client for integration tests, and the runner images."""

from __future__ import annotations

import os
from collections.abc import Iterator

import docker
import pytest


def docker_client_or_skip() -> docker.DockerClient:
    """A connected client; no engine fails the test under CI (make test starts one) and
    skips it elsewhere."""
    try:
        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        message = f"no Docker engine ({exc}): run scripts/ensure-docker"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    """A Docker client; at the end of the module every container this test process made
    (owner pid = us) must be gone. Other processes' containers are not ours to judge."""
    client = docker_client_or_skip()
    yield client
    left = client.containers.list(all=True,
                                  filters={"label": f"dockerflow.owner.pid={os.getpid()}"})
    assert left == [], f"containers left behind: {[c.name for c in left]}"
    client.close()


@pytest.fixture(scope="session")
def runner_images() -> None:
    """dockerflow/debian-base:bookworm and dockerflow/python:latest, built offline once."""
    from dockerflow.images import build_runner_images

    client = docker_client_or_skip()
    build_runner_images(on_output=lambda line: None, client=client)
    client.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A real PostgreSQL 15 on loopback for the whole session (tests/pgserver.py). Without
    initdb the test fails under CI and is skipped elsewhere."""
    from pgserver import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"no PostgreSQL server: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: object) -> Iterator[str]:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    import uuid

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)  # type: ignore[attr-defined]
    yield url
    pg_server.drop_database(name)  # type: ignore[attr-defined]
