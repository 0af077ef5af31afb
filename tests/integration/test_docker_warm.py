"""Warm containers (`docker: {reuse: true}`) against a real Docker engine: tasks run one after
another in one long-lived container per key, each with its own env, cwd, output, exit code, timeout and
OOM report; parallel tasks get separate containers; nothing is left after close / cancel /
Ctrl-C, and a kill -9 leaves a warm container that the next run's reaper (or gc) removes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest

from dockerflow.executors.base import ExecRequest, ExitReason
from dockerflow.executors.docker import DockerExecutor
from dockerflow.executors.docker_options import parse_docker_options
from dockerflow.executors.docker_warm import WARM
from dockerflow.images import ensure_base

pytestmark = pytest.mark.docker

CLI = [sys.executable, "-m", "dockerflow"]
IMAGE = "dockerflow/debian-base:bookworm"


@pytest.fixture(scope="module")
def image(client: docker.DockerClient) -> str:
    return ensure_base(on_output=lambda line: None, client=client)


@pytest.fixture()
def executor(client: docker.DockerClient, image: str) -> Iterator[DockerExecutor]:
    ex = DockerExecutor(client, stop_grace=2)
    yield ex
    ex.close()
    assert _warm_of_pid(client, os.getpid()) == []


def _warm_of_pid(client: docker.DockerClient, pid: int) -> list[str]:
    found = client.api.containers(all=True, filters={"label": [f"{WARM}=1", f"dockerflow.owner.pid={pid}"]})
    return [c["Id"] for c in found]


def _warm_in(project: Path) -> list[str]:
    client = docker.from_env()
    try:
        return [c.id for c in client.containers.list(all=True, filters={"label": f"{WARM}=1"})
                if c.attrs["Config"]["WorkingDir"] == str(project)]
    finally:
        client.close()


def req(project: Path, script: str, lines: list[str] | None = None, *, env: dict[str, str] | None = None,
        cwd: Path | None = None, req_timeout: float | None = None, io_name: str = "t",
        **docker_opts: Any) -> ExecRequest:
    """`io_name`: the task's io folder; tasks that run at once need their own (as the engine
    gives each task), since the launcher script is written there."""
    io = project / ".dockerflow" / "io" / io_name
    io.mkdir(parents=True, exist_ok=True)
    sink = lines if lines is not None else []
    return ExecRequest(
        argv=["/bin/sh", "-c", script], env=env or {}, cwd=cwd or project, project_dir=project, io_dir=io,
        task_name="+warm+task", on_output=sink.append, timeout=req_timeout,
        docker=parse_docker_options({"image": IMAGE, "reuse": True, **docker_opts}, host_env=os.environ,
                                    base_dir=str(project)))


def pool_created(ex: DockerExecutor) -> int:
    assert ex._warm is not None
    return ex._warm.created


def test_sequential_tasks_share_one_container_each_with_its_env_cwd_and_exit(
        executor: DockerExecutor, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    outputs = []
    for i in range(5):
        lines: list[str] = []
        result = executor.run(req(tmp_path, f'echo "$N $(pwd) ${{ONLY_FIRST:-unset}}"; echo err{i} >&2; exit {i}',
                                  lines, env={"N": str(i), **({"ONLY_FIRST": "yes"} if i == 0 else {})},
                                  cwd=tmp_path / "sub" if i % 2 else tmp_path))
        assert result.exit_code == i and result.reason is ExitReason.EXITED
        outputs.append(lines)
    # stdout and stderr are separate pipes: their lines may interleave either way
    assert sorted(outputs[0]) == [f"0 {tmp_path} yes", "err0"]
    assert sorted(outputs[1]) == [f"1 {tmp_path / 'sub'} unset", "err1"]  # no env left from the task before
    assert sorted(outputs[4]) == [f"4 {tmp_path} unset", "err4"]
    assert pool_created(executor) == 1


def test_many_lines_arrive_in_order_and_files_are_ours(executor: DockerExecutor, tmp_path: Path) -> None:
    lines: list[str] = []
    result = executor.run(req(tmp_path, "i=0; while [ $i -lt 3000 ]; do echo line$i; i=$((i+1)); done;"
                                        " printf tail; echo x > out.txt", lines))
    assert result.exit_code == 0
    assert lines == [f"line{i}" for i in range(3000)] + ["tail"]
    assert (tmp_path / "out.txt").stat().st_uid == os.getuid()


def test_env_values_stdin_and_left_processes(executor: DockerExecutor, tmp_path: Path) -> None:
    lines: list[str] = []
    tricky = "it's \"quoted\" $HOME `id` \\ ünï\nsecond line"
    result = executor.run(req(tmp_path, 'printf "%s|" "$V"; echo; read x; echo "read=$?"', lines, env={"V": tricky}))
    assert result.exit_code == 0
    assert lines == ["it's \"quoted\" $HOME `id` \\ ünï", "second line|", "read=1"]  # stdin is /dev/null
    lines = []
    started = time.monotonic()
    result = executor.run(req(tmp_path, "(sleep 5; echo late) & echo started", lines))
    assert result.exit_code == 0 and lines == ["started"]
    lines = []
    assert executor.run(req(tmp_path, "sleep 6; echo next", lines)).exit_code == 0
    assert lines == ["next"]  # what the task before left running was killed when it ended
    assert time.monotonic() - started < 12
    assert pool_created(executor) == 1


def test_output_without_a_final_newline_and_empty_lines(executor: DockerExecutor, tmp_path: Path) -> None:
    for script, want in [("printf 'a\\n\\nb'", ["a", "", "b"]), ("printf 'a\\n\\n'", ["a", ""]),
                         ("true", []), ("echo; echo >&2", ["", ""]), ("printf x >&2", ["x"])]:
        lines: list[str] = []
        assert executor.run(req(tmp_path, script, lines)).exit_code == 0
        assert lines == want, script
    assert pool_created(executor) == 1


def test_parallel_tasks_get_separate_containers_then_reuse_them(executor: DockerExecutor, tmp_path: Path,
                                                               client: docker.DockerClient) -> None:
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda i: executor.run(req(tmp_path, f"sleep 1; echo {i}", io_name=f"t{i}")),
                                range(3)))
    assert [r.exit_code for r in results] == [0, 0, 0]
    assert pool_created(executor) == 3
    assert len(_warm_of_pid(client, os.getpid())) == 3  # idle until the attempt ends
    assert executor.run(req(tmp_path, "true")).exit_code == 0
    assert pool_created(executor) == 3


def test_different_container_options_get_different_containers(executor: DockerExecutor, tmp_path: Path) -> None:
    assert executor.run(req(tmp_path, "true")).exit_code == 0
    assert executor.run(req(tmp_path, "true", memory="256m")).exit_code == 0
    assert executor.run(req(tmp_path, "true", env={"A": "1"})).exit_code == 0  # task env: same container
    assert executor.run(req(tmp_path, "true", timeout=30)).exit_code == 0  # docker: timeout: same container
    assert pool_created(executor) == 2


def test_timeout_terminates_the_task_and_the_next_gets_a_new_container(
        executor: DockerExecutor, tmp_path: Path) -> None:
    lines: list[str] = []
    started = time.monotonic()
    result = executor.run(req(tmp_path, "trap 'echo got TERM; exit 5' TERM; echo ready; sleep 30 & wait", lines,
                              timeout="1s"))
    assert result.reason is ExitReason.TIMEOUT and result.message == "timed out after 1s"
    assert time.monotonic() - started < 10
    assert lines == ["ready", "got TERM"]
    lines = []
    result = executor.run(req(tmp_path, "sleep 30", lines, req_timeout=1))  # ignores nothing: killed by TERM
    assert result.reason is ExitReason.TIMEOUT
    assert executor.run(req(tmp_path, "echo fine", lines)).exit_code == 0
    assert lines == ["fine"]
    assert pool_created(executor) == 3  # a timed-out container is not reused


@pytest.mark.parametrize("init", [True, False])
def test_a_task_ignoring_term_is_killed_after_the_grace(executor: DockerExecutor, tmp_path: Path, init: bool) -> None:
    lines: list[str] = []
    assert executor.run(req(tmp_path, "trap 'echo TERM' TERM; sleep 30 & wait", lines, timeout=1, init=init)).reason \
        is ExitReason.TIMEOUT
    assert lines == ["TERM"]
    started = time.monotonic()
    result = executor.run(req(tmp_path, "trap '' TERM; sleep 30", timeout=1, init=init))
    assert result.reason is ExitReason.TIMEOUT
    assert time.monotonic() - started < 1 + 2 + 8  # timeout + grace + removal


def test_oom_is_reported_and_the_container_replaced(executor: DockerExecutor, tmp_path: Path) -> None:
    hog = "python3 -c 'b = []\nwhile True: b.append(bytearray(8 << 20))'"
    result = executor.run(req(tmp_path, hog, memory="64m"))
    assert result.reason is ExitReason.OOM, result
    assert result.message == "container killed: out of memory (memory limit 64m)"
    lines: list[str] = []
    assert executor.run(req(tmp_path, "echo after", lines, memory="64m")).exit_code == 0
    assert lines == ["after"]
    assert pool_created(executor) == 2


def test_signals_are_named_and_a_dead_idle_container_is_replaced(
        executor: DockerExecutor, tmp_path: Path, client: docker.DockerClient) -> None:
    result = executor.run(req(tmp_path, "kill -9 $$"))
    assert result.reason is ExitReason.SIGNAL and result.message == "killed by SIGKILL (exit code 137)"
    assert pool_created(executor) == 1  # the container survived: reused
    (warm,) = _warm_of_pid(client, os.getpid())
    client.api.kill(warm)  # dies while idle
    lines: list[str] = []
    assert executor.run(req(tmp_path, "echo again", lines)).exit_code == 0
    assert lines == ["again"] and pool_created(executor) == 2


def test_labels_and_the_python_check(executor: DockerExecutor, tmp_path: Path, client: docker.DockerClient) -> None:
    seen: list[dict[str, str]] = []

    def look() -> None:
        deadline = time.time() + 30
        while time.time() < deadline and not seen:
            for c in client.api.containers(filters={"label": [f"{WARM}=1", f"dockerflow.owner.pid={os.getpid()}"]}):
                seen.append(c["Labels"])
            time.sleep(0.1)

    watcher = threading.Thread(target=look)
    watcher.start()
    request = req(tmp_path, "sleep 2; python3 -c 'print(1)'")
    request.needs_python = True
    assert executor.run(request).exit_code == 0
    watcher.join()
    labels = seen[0]
    assert labels["dockerflow"] == "1" and labels["dockerflow.owner.host"] and labels["dockerflow.owner.started"]


def test_cancel_all_stops_running_tasks_and_removes_every_warm_container(
        client: docker.DockerClient, image: str, tmp_path: Path) -> None:
    ex = DockerExecutor(client, stop_grace=2)
    try:
        assert ex.run(req(tmp_path, "true", memory="128m")).exit_code == 0  # one idle container
        results: list[Any] = []
        worker = threading.Thread(target=lambda: results.append(ex.run(req(tmp_path, "echo go; sleep 60"))))
        worker.start()
        deadline = time.time() + 30
        while len(_warm_of_pid(client, os.getpid())) < 2:
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        started = time.monotonic()
        ex.cancel_all()
        worker.join(30)
        assert results and results[0].reason is ExitReason.CANCELED
        assert time.monotonic() - started < 10
        assert _warm_of_pid(client, os.getpid()) == []
        assert ex.run(req(tmp_path, "true")).reason is ExitReason.CANCELED
    finally:
        ex.close()


# ---------------------------------------------------------------- the CLI: one attempt

WORKFLOW = f"""
_export:
  docker:
    image: {IMAGE}
    reuse: true
+first:
  sh>: echo first >> out.txt
+second:
  sh>: echo second >> out.txt
+slow:
  sh>: touch started; sleep 60; echo slow >> out.txt
+last:
  sh>: echo last >> out.txt
"""


def _start(project: Path) -> subprocess.Popen[str]:
    (project / "wf.dig").write_text(WORKFLOW)
    proc = subprocess.Popen(CLI + ["run", "wf.dig", "--session", "2024-03-05"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (project / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "the slow task never started"
        time.sleep(0.1)
    return proc


def _run_to_end(project: Path) -> list[dict[str, str]]:
    """`dockerflow run` to success; the labels of the containers it created."""
    since = int(time.time()) - 1
    proc = subprocess.Popen(CLI + ["run", "wf.dig", "--session", "2024-03-05"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    client = docker.from_env()
    events = client.events(since=since, until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "event": "create",
                                    "label": ["dockerflow=1", f"dockerflow.owner.pid={proc.pid}"]})
    made = [e["Actor"]["Attributes"] for e in events]
    client.close()
    return made


def _finish(project: Path) -> None:
    (project / "wf.dig").write_text(WORKFLOW.replace("sleep 60; ", ""))
    made = _run_to_end(project)
    assert (project / "out.txt").read_text() == "first\nsecond\nslow\nlast\n"
    assert _warm_in(project) == []
    assert len(made) == 1 and made[0][WARM] == "1", made  # slow and last ran in one container


def test_a_run_uses_one_container_and_removes_it(tmp_path: Path, image: str) -> None:
    (tmp_path / "started").touch()
    _finish(tmp_path)
    (tmp_path / "out.txt").unlink()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_leaves_no_warm_container(tmp_path: Path, image: str, sig: int, code: int) -> None:
    proc = _start(tmp_path)
    t0 = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert time.time() - t0 < 20
    assert _warm_in(tmp_path) == [], "a warm container was left behind"
    _finish(tmp_path)


def test_kill_9_leaves_a_warm_container_the_next_run_removes(tmp_path: Path, image: str) -> None:
    proc = _start(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert len(_warm_in(tmp_path)) == 1, "expected the warm container to be orphaned"
    _finish(tmp_path)


def test_gc_removes_an_orphaned_warm_container(tmp_path: Path, image: str) -> None:
    proc = _start(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert len(_warm_in(tmp_path)) == 1
    r = subprocess.run(CLI + ["gc"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _warm_in(tmp_path) == []
