"""Every project in examples/ runs with `dockerflow run` against the real engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
from conformance_runner import use_warm_containers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLI = [sys.executable, "-m", "dockerflow"]

pytestmark = pytest.mark.docker


# Each example runs as written, and again with `reuse: true` in every docker: (warm containers).
WARM = pytest.mark.parametrize("reuse", [False, True], ids=["containers", "warm"])


def run_example(name: str, dig: str, tmp_path: Path, reuse: bool = False) -> tuple[Path, str]:
    project = tmp_path / name
    shutil.copytree(EXAMPLES / name, project)
    if reuse:
        assert use_warm_containers(project) > 0
    r = subprocess.run(CLI + ["run", dig, "--session", "2024-03-05"], cwd=project,
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    return project, out


@WARM
def test_hello(runner_images: None, tmp_path: Path, reuse: bool) -> None:
    _, out = run_example("hello", "hello.dig", tmp_path, reuse)
    assert "hello from Debian GNU/Linux 12 (bookworm)" in out
    assert "the answer is 42" in out


def test_init_project_runs_in_a_container(runner_images: None, tmp_path: Path) -> None:
    r = subprocess.run(CLI + ["init", "proj"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "dockerflow images build" in r.stdout
    client = docker.from_env()
    since = int(time.time()) - 1
    r = subprocess.run(CLI + ["run", "hello.dig", "--session", "2024-03-05"], cwd=tmp_path / "proj",
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"running on Debian GNU/Linux 12 (bookworm) as uid {os.getuid()}" in out
    assert "the answer is 30" in out
    events = client.events(since=since, until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "event": "create",
                                    "label": "dockerflow.task=+hello+where"})
    images = [e["Actor"]["Attributes"]["image"] for e in events]
    client.close()
    assert len(images) == 1, images  # it ran in a container of the runner image


@WARM
def test_pipeline(runner_images: None, tmp_path: Path, reuse: bool) -> None:
    project, out = run_example("pipeline", "pipeline.dig", tmp_path, reuse)
    assert (project / "report.txt").read_text() == "orders=4 total=305 top=ada\n"
    assert (project / "data" / "rows.json").stat().st_uid == (project / "steps.py").stat().st_uid


@WARM
def test_ci_build_builds_once(runner_images: None, tmp_path: Path, reuse: bool) -> None:
    project, out = run_example("ci-build", "ci.dig", tmp_path, reuse)
    assert "lint ok for 1 files" in out and "built dist/app.tar.gz" in out
    assert (project / "dist" / "app.tar.gz").is_file()
    r = subprocess.run(CLI + ["run", "ci.dig", "--session", "2024-03-06"], cwd=project,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[docker build]" not in r.stdout + r.stderr  # the derived image was reused
