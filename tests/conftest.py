"""Shared fixtures: the runner images for tests that run workflows in containers."""

from __future__ import annotations

import os

import pytest


def _docker_client():  # type: ignore[no-untyped-def]
    import docker

    try:
        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine here"
        message = f"no Docker engine ({exc}): run scripts/ensure-docker"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def runner_images() -> None:
    """dockerflow/debian-base:bookworm and dockerflow/python:latest, built offline once."""
    from dockerflow.images import build_runner_images

    client = _docker_client()
    build_runner_images(on_output=lambda line: None, client=client)
    client.close()
