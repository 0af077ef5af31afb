"""The offline base image, the runner images of dockerflow/runner_images/, and `dockerflow images build`."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from dockerflow.cli.images_cmd import images
from dockerflow.executors.base import ExecRequest
from dockerflow.executors.docker import DockerExecutor
from dockerflow.executors.docker_options import parse_docker_options
from dockerflow.images import DEFAULT_BASE, build_runner_images, ensure_base, images_dir

pytestmark = pytest.mark.docker


def test_images_dir_has_the_python_runner() -> None:
    dockerfile = (images_dir() / "python" / "Dockerfile").read_text()
    assert "ARG BASE" in dockerfile and "FROM ${BASE}" in dockerfile


def test_ensure_base_is_idempotent(client: docker.DockerClient) -> None:
    assert ensure_base(on_output=lambda line: None, client=client) == DEFAULT_BASE
    lines: list[str] = []
    started = time.monotonic()
    assert ensure_base(on_output=lines.append, client=client) == DEFAULT_BASE
    assert lines == [] and time.monotonic() - started < 5
    config = client.images.get(DEFAULT_BASE).attrs["Config"]
    assert config["Labels"]["dockerflow.image"] == "base"


def test_images_build_command_builds_the_runner(client: docker.DockerClient) -> None:
    result = CliRunner().invoke(images, ["build"])
    assert result.exit_code == 0, result.output
    assert "built dockerflow/python:latest" in result.output
    assert "[python] " in result.output  # the build log is shown


def test_unpullable_base_falls_back_to_the_offline_base(client: docker.DockerClient) -> None:
    lines: list[str] = []
    tags = build_runner_images(base="dockerflow-test/no-such-base:1", on_output=lines.append, client=client)
    assert tags == ["dockerflow/python:latest"]
    assert any("cannot pull dockerflow-test/no-such-base:1" in line and DEFAULT_BASE in line for line in lines)


def test_runner_image_runs_py_tasks_as_the_invoking_user(client: docker.DockerClient, tmp_path: Path) -> None:
    build_runner_images(on_output=lambda line: None, client=client)  # cached layers: quick
    lines: list[str] = []
    script = 'python3 -c "import os, pathlib; p = pathlib.Path(os.environ[\'HOME\'], \'x\'); p.write_text(\'1\'); print(p)"; pip3 --version | cut -c1-4'
    executor = DockerExecutor(client)
    result = executor.run(
        ExecRequest(
            argv=["/bin/sh", "-c", script], env={}, cwd=tmp_path, project_dir=tmp_path,
            io_dir=tmp_path, task_name="+runner", on_output=lines.append,
            docker=parse_docker_options({"image": "dockerflow/python:latest", "user": "1234:1234"}), needs_python=True,
        )
    )
    assert result.exit_code == 0, lines
    assert lines == ["/tmp/home/x", "pip "]
