"""No Docker engine is not bad input: `gc`, `images build` and a run with a docker task exit 3
with one line saying how to start an engine (DOCKER_HOST points at a socket nobody serves)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "dockerflow"]


@pytest.fixture()
def nowhere() -> str:
    path = Path(f"/tmp/dockerflow-nothing-{uuid.uuid4().hex[:8]}.sock")
    assert not path.exists()
    return f"unix://{path}"


def _cli(args: list[str], host: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, cwd=cwd, env={**os.environ, "DOCKER_HOST": host},
                          capture_output=True, text=True, timeout=120)


def _message(host: str) -> str:
    return (f"the Docker engine at {host} does not answer: start it (sudo systemctl start docker,"
            " or dockerd) or set DOCKER_HOST")


@pytest.mark.parametrize("args", [["gc"], ["images", "build"]], ids=["gc", "images-build"])
def test_commands_that_need_the_engine_exit_3(args: list[str], nowhere: str) -> None:
    r = _cli(args, nowhere)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stderr == f"error: {_message(nowhere)}\n"
    assert "Traceback" not in r.stdout + r.stderr


def test_a_run_whose_docker_task_cannot_reach_the_engine_exits_3(tmp_path: Path, nowhere: str) -> None:
    (tmp_path / "wf.dig").write_text(
        "+host:\n  sh>: echo on the host > host.txt\n"
        "+box:\n  _export:\n    docker:\n      image: dockerflow/debian-base:bookworm\n  sh>: echo in a box\n")
    r = _cli(["run", "wf.dig"], nowhere, cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert (tmp_path / "host.txt").read_text() == "on the host\n"
    assert f"[+wf+box] failed: {_message(nowhere)}" in r.stderr
    assert "Failed (2 run, 0 skipped, 1 failed" in r.stderr
    assert f"  * +wf+box:\n    {_message(nowhere)}\n" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_a_run_whose_task_fails_otherwise_still_exits_1(tmp_path: Path, nowhere: str) -> None:
    (tmp_path / "wf.dig").write_text("+host:\n  sh>: exit 4\n")
    r = _cli(["run", "wf.dig"], nowhere, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
