"""An engine that restarts mid-task, and one that stays away, against a private dockerd.

The main engine is shared with other tests and must never be restarted, so these tests start
their own daemon (root only): its own socket, data root, exec root (with its own managed
containerd under it), pid file and an empty config file, no bridge and no iptables rules, so
it cannot clash with the main one. The base image is copied into it from the main engine.
The daemon is stopped and its folders removed at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CLI = [sys.executable, "-m", "dockerflow"]
IMAGE = "dockerflow/debian-base:bookworm"

WORKFLOW = f"""
_export:
  docker:
    image: {IMAGE}
+first:
  sh>: echo first >> first.txt
+slow:
  sh>: echo begin; touch started; sleep 4; echo slow >> slow.txt; echo end
"""


class PrivateEngine:
    """A dockerd of our own under a short /tmp folder (unix socket paths are limited to 108
    bytes); start/stop it at will."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dfe", dir="/tmp"))
        self.socket = self.root / "d.sock"
        self.host = f"unix://{self.socket}"
        self.log = self.root / "dockerd.log"
        (self.root / "daemon.json").write_text("{}\n")  # not the main engine's /etc/docker/daemon.json
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "--host", self.host, "--config-file", str(self.root / "daemon.json"),
                 "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
                 "--pidfile", str(self.root / "d.pid"), "--bridge=none", "--iptables=false",
                 "--ip-masq=false"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the private dockerd did not start:\n{self.tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (the daemon stops its containers and its containerd), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def answers(self) -> bool:
        try:
            with contextlib.closing(self.client()) as client:
                return bool(client.ping())
        except (docker.errors.DockerException, OSError):  # not up (yet)
            return False

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=30)

    def containers(self) -> list[str]:
        with contextlib.closing(self.client()) as client:
            return [c["Names"][0] for c in client.api.containers(all=True)]

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def destroy(self) -> None:
        self.stop()
        # The daemon leaves a network namespace (and, after a hard kill, overlay mounts)
        # mounted under its exec/data roots: unmount them, deepest first, before removing.
        prefix = str(self.root) + "/"
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def engine(client: docker.DockerClient) -> Iterator[PrivateEngine]:
    """The private engine, with the base image copied from the main engine (`client`)."""
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("a private Docker engine needs root and dockerd")
    from dockerflow.images import ensure_base

    ensure_base(on_output=lambda line: None, client=client)
    private = PrivateEngine()
    try:
        private.start()
        with contextlib.closing(private.client()) as own:
            own.api.load_image(b"".join(client.api.get_image(IMAGE)))
        yield private
    finally:
        private.destroy()


def _start_run(project: Path, engine: PrivateEngine, **env: str) -> subprocess.Popen[str]:
    (project / "wf.dig").write_text(WORKFLOW)
    return subprocess.Popen(CLI + ["run", "wf.dig", "--session", "2024-03-05"], cwd=project,
                            env={**os.environ, "DOCKER_HOST": engine.host, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_a_restart_mid_task_runs_the_task_again(engine: PrivateEngine, tmp_path: Path) -> None:
    if not engine.answers():
        engine.start()
    proc = _start_run(tmp_path, engine)
    _wait_for(tmp_path / "started", proc)
    engine.stop()
    (tmp_path / "started").unlink()
    engine.start()
    out, err = proc.communicate(timeout=180)
    text = out + err
    assert proc.returncode == 0, text + engine.tail()
    assert "1 re-run after the engine restarted" in err, err
    assert (tmp_path / "first.txt").read_text() == "first\n"  # the finished task kept its result
    assert out.count("[+wf+first] started") == 1
    assert (tmp_path / "slow.txt").read_text() == "slow\n"  # the stopped run never got that far
    lines = out.splitlines()
    announce = lines.index("[+wf+slow] [dockerflow] the Docker engine stopped answering; waiting up to 60s for it")
    again = next(i for i, line in enumerate(lines) if line.startswith("[+wf+slow] [dockerflow] running +wf+slow again"))
    assert lines.index("[+wf+slow] begin") < announce < again < len(lines) - 1
    assert lines[again + 1:] == ["[+wf+slow] begin", "[+wf+slow] end"], out
    assert any("answers again after" in line and "removed the task's container" in line for line in lines), out
    assert "Traceback" not in text
    assert engine.containers() == []
    logs = [p.read_text() for p in (tmp_path / ".dockerflow" / "logs").rglob("*.log")]
    assert any("waiting up to 60s" in log and log.rstrip().endswith("end") for log in logs), logs


def test_an_engine_that_stays_away_fails_the_task(engine: PrivateEngine, tmp_path: Path) -> None:
    if not engine.answers():
        engine.start()
    proc = _start_run(tmp_path, engine, DOCKERFLOW_ENGINE_WAIT="3")
    _wait_for(tmp_path / "started", proc)
    stopped = time.monotonic()
    engine.stop()
    out, err = proc.communicate(timeout=120)
    text = out + err
    assert proc.returncode == 3, text
    assert time.monotonic() - stopped < 30
    assert "[+wf+slow] [dockerflow] the Docker engine stopped answering; waiting up to 3s for it" in out
    assert f"the Docker engine at {engine.host} does not answer" in err
    assert "did not answer again within 3s" in err and "  * +wf+slow:" in err
    assert "Traceback" not in text
    assert (tmp_path / "first.txt").read_text() == "first\n" and not (tmp_path / "slow.txt").exists()
    # What the task left behind is removed by the next run's reaper (here: gc).
    engine.start()
    assert len(engine.containers()) == 1
    gc = subprocess.run(CLI + ["gc"], env={**os.environ, "DOCKER_HOST": engine.host},
                        capture_output=True, text=True, timeout=120)
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert engine.containers() == []
