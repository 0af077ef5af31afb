"""`dockerflow run` with containers: Ctrl-C and kill -9 leave nothing behind, runs resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

CLI = [sys.executable, "-m", "dockerflow"]
IMAGE = "dockerflow/debian-base:bookworm"

pytestmark = pytest.mark.docker

WORKFLOW = f"""
_export:
  docker:
    image: {IMAGE}
+first:
  sh>: echo first >> out.txt
+slow:
  sh>: touch started; sleep 60; echo slow >> out.txt
+last:
  sh>: echo last >> out.txt
"""


def _containers(project: Path) -> list[str]:
    client = docker.from_env()
    try:
        return [c.id for c in client.containers.list(all=True, filters={"label": "dockerflow=1"})
                if c.attrs["Config"]["WorkingDir"].startswith(str(project))]
    finally:
        client.close()


def _start(project: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(CLI + ["run", "wf.dig", "--session", "2024-03-05"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (project / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the slow task never started"
        time.sleep(0.1)
    return proc


def _finish_and_check(project: Path) -> None:
    (project / "wf.dig").write_text(WORKFLOW.replace("sleep 60; ", ""))
    r = subprocess.run(CLI + ["run", "wf.dig", "--session", "2024-03-05"], cwd=project,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[+wf+first] skipped (succeeded before)" in r.stdout
    assert (project / "out.txt").read_text() == "first\nslow\nlast\n"
    assert _containers(project) == []


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_container_and_next_run_resumes(runner_images: None, tmp_path: Path,
                                                     sig: int, code: int) -> None:
    (tmp_path / "wf.dig").write_text(WORKFLOW)
    proc = _start(tmp_path)
    t0 = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert time.time() - t0 < 20
    assert _containers(tmp_path) == [], "a container was left behind"
    _finish_and_check(tmp_path)


def test_kill_9_orphan_is_removed_by_next_run(runner_images: None, tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text(WORKFLOW)
    proc = _start(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert len(_containers(tmp_path)) == 1, "expected the running container to be orphaned"
    _finish_and_check(tmp_path)


def test_gc_removes_orphans(runner_images: None, tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text(WORKFLOW)
    proc = _start(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    r = subprocess.run(CLI + ["gc"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _containers(tmp_path) == []


@pytest.mark.parametrize("reuse", [False, True], ids=["containers", "warm"])
def test_container_task_errors_are_clear(runner_images: None, tmp_path: Path, reuse: bool) -> None:
    (tmp_path / "wf.dig").write_text(
        f"_export:\n  docker:\n    image: {IMAGE}\n    reuse: {str(reuse).lower()}\n"
        "+oom:\n  _export:\n    docker:\n      memory: 32m\n"
        "  py>: tasks.hog\n"
        "+slow:\n  _export:\n    docker:\n      timeout: 2s\n  sh>: sleep 30\n"
        "+nopy:\n  _export:\n    docker:\n      image: no-such/image:1\n  sh>: true\n"
        "_parallel: true\n")
    (tmp_path / "tasks.py").write_text("def hog():\n    b = []\n"
                                       "    while True:\n        b.append(bytearray(8 << 20))\n")
    r = subprocess.run(CLI + ["run", "wf.dig"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "out of memory" in out
    assert "timed out after 2s" in out
    assert "no-such/image:1" in out
    assert "Traceback" not in out
    assert _containers(tmp_path) == []
