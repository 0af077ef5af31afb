"""DockerExecutor against a real Docker engine (scripts/ensure-docker starts one).

Every container a test makes is removed; the module ends by checking that no container
labelled dockerflow=1 is left.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest

from dockerflow.errors import ExecutorError
from dockerflow.executors.base import ExecRequest, ExecResult, ExitReason
from dockerflow.executors.docker import DockerExecutor
from dockerflow.executors.docker_errors import BuildFailed, ImageMissing
from dockerflow.executors.docker_options import DockerOptionsError, parse_docker_options
from dockerflow.images import ensure_base

pytestmark = pytest.mark.docker

TEST_IMAGE = "dockerflow-test/runner:latest"
NO_PYTHON_IMAGE = "dockerflow-test/no-python:latest"


def _build(client: docker.DockerClient, tag: str, dockerfile: str) -> None:
    from dockerflow.executors.docker_build import build_image, context_tar

    build_image(client.api, context=context_tar(dockerfile), tag=tag, on_line=lambda line: None)


@pytest.fixture(scope="module")
def images(client: docker.DockerClient) -> str:
    """A small runner image (the offline base + a label) and one without python3."""
    base = ensure_base(on_output=lambda line: None, client=client)
    _build(client, TEST_IMAGE, f"FROM {base}\nLABEL dockerflow-test=1\n")
    _build(client, NO_PYTHON_IMAGE, f"FROM {base}\nRUN rm -f /usr/bin/python3*\n")
    return TEST_IMAGE


@pytest.fixture()
def executor(client: docker.DockerClient) -> Iterator[DockerExecutor]:
    ex = DockerExecutor(client, stop_grace=5)
    yield ex
    ex.close()


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    io = tmp_path / ".dockerflow" / "io" / "t"
    io.mkdir(parents=True)
    return tmp_path


def request(project: Path, script: str, lines: list[str] | None = None, **docker_opts: Any) -> ExecRequest:
    extra = {k: docker_opts.pop(k) for k in ("env", "req_timeout", "needs_python", "labels", "task_name") if k in docker_opts}
    sink = lines if lines is not None else []
    return ExecRequest(
        argv=["/bin/sh", "-c", script],
        env=extra.get("env", {}),
        cwd=project,
        project_dir=project,
        io_dir=project / ".dockerflow" / "io" / "t",
        task_name=extra.get("task_name", "+test+task"),
        on_output=sink.append,
        docker=parse_docker_options({"image": TEST_IMAGE, **docker_opts}, host_env=os.environ, base_dir=str(project)),
        timeout=extra.get("req_timeout"),
        labels=extra.get("labels", {}),
        needs_python=extra.get("needs_python", False),
    )


# ---------------------------------------------------------------- output and exit codes


def test_output_lines_in_order_none_lost(executor: DockerExecutor, images: str, project: Path) -> None:
    lines: list[str] = []
    result = executor.run(request(project, "seq 1 20000; printf 'no newline at end'", lines))
    assert result == ExecResult(0, ExitReason.EXITED, None)
    assert lines == [str(i) for i in range(1, 20001)] + ["no newline at end"]


def test_fast_exiting_containers_lose_nothing(executor: DockerExecutor, images: str, project: Path) -> None:
    def one(i: int) -> list[str]:
        lines: list[str] = []
        assert executor.run(request(project, f"seq 1 {200 + i}", lines, task_name=f"+t{i}")).exit_code == 0
        return lines

    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(one, range(12)))
    for i, lines in enumerate(outputs):
        assert len(lines) == 200 + i and lines == [str(n) for n in range(1, 201 + i)], (i, len(lines))


def test_stderr_and_utf8(executor: DockerExecutor, images: str, project: Path) -> None:
    lines: list[str] = []
    executor.run(request(project, "echo out; echo 'é€' >&2; printf '\\377\\n'", lines))
    assert sorted(lines) == sorted(["out", "é€", "\ufffd"])


def test_exit_code_is_reported(executor: DockerExecutor, images: str, project: Path) -> None:
    assert executor.run(request(project, "exit 42")) == ExecResult(42, ExitReason.EXITED, None)


def test_exit_by_signal_is_named(executor: DockerExecutor, images: str, project: Path) -> None:
    result = executor.run(request(project, "kill -KILL $$"))
    assert result.reason is ExitReason.SIGNAL and result.exit_code == 137
    assert "SIGKILL" in (result.message or "")


def test_env_goes_through_the_api(executor: DockerExecutor, images: str, project: Path, client: docker.DockerClient) -> None:
    lines: list[str] = []
    value = "two words; $(not run) 'quotes'\nsecond line"
    result = executor.run(request(project, 'printf "%s\\n" "$MY_PARAM"', lines, env={"MY_PARAM": value}))
    assert result.exit_code == 0 and lines == value.split("\n")


def test_docker_env_and_task_env(executor: DockerExecutor, images: str, project: Path) -> None:
    lines: list[str] = []
    req = request(project, 'echo "$A-$B-$C"', lines, env={"B": "task"})
    req.docker = parse_docker_options(
        {"image": TEST_IMAGE, "env": {"A": "img", "B": "loses"}, "run_options": ["-e", "C=flag"]}
    )
    executor.run(req)
    assert lines == ["img-task-flag"]


# ---------------------------------------------------------------- mounts, user, HOME, labels


def test_project_mounted_at_same_path_and_cwd(executor: DockerExecutor, images: str, project: Path) -> None:
    (project / "input.txt").write_text("from host\n")
    lines: list[str] = []
    result = executor.run(request(project, "pwd; cat input.txt; echo made > made.txt", lines))
    assert result.exit_code == 0
    assert lines == [str(project), "from host"]
    assert (project / "made.txt").read_text() == "made\n"


def test_taskside_is_mounted_read_only(executor: DockerExecutor, images: str, project: Path, tmp_path_factory: Any) -> None:
    taskside = tmp_path_factory.mktemp("taskside")
    (taskside / "runner.py").write_text("print('runner')\n")
    req = request(project, f"python3 {taskside}/runner.py; touch {taskside}/x 2>/dev/null || echo read-only")
    lines: list[str] = []
    req.on_output = lines.append
    req.taskside = taskside
    assert executor.run(req).exit_code == 0
    assert lines == ["runner", "read-only"]


def test_explicit_user_owns_written_files_and_home_is_writable(
    executor: DockerExecutor, images: str, project: Path
) -> None:
    project.chmod(0o777)
    lines: list[str] = []
    script = "id -u; id -g; echo hi > owned.txt; echo x > $HOME/f && echo home-ok; echo $HOME"
    result = executor.run(request(project, script, lines, user="4321:4322"))
    assert result.exit_code == 0, lines
    assert lines[:3] == ["4321", "4322", "home-ok"]
    stat = (project / "owned.txt").stat()
    assert (stat.st_uid, stat.st_gid) == (4321, 4322)


def test_default_user_is_the_invoking_user(executor: DockerExecutor, images: str, project: Path) -> None:
    lines: list[str] = []
    executor.run(request(project, "id -u; id -g", lines))
    assert lines == [str(os.getuid()), str(os.getgid())]


def test_root_opt_out(executor: DockerExecutor, images: str, project: Path) -> None:
    lines: list[str] = []
    executor.run(request(project, "id -u", lines, user="root"))
    assert lines == ["0"]


def test_containers_are_labelled(executor: DockerExecutor, images: str, project: Path, client: docker.DockerClient) -> None:
    seen: list[dict[str, str]] = []

    def watch(line: str) -> None:
        if line == "ready":
            found = client.containers.list(filters={"label": "dockerflow.task=+test+labelled"})
            seen.extend(c.labels for c in found)

    req = request(project, "echo ready; sleep 0.3", task_name="+test+labelled", labels={"run_id": "7"})
    req.on_output = watch
    executor.run(req)
    assert len(seen) == 1
    labels = seen[0]
    assert labels["dockerflow"] == "1" and labels["dockerflow.run_id"] == "7"
    assert labels["dockerflow.owner.pid"] == str(os.getpid())
    assert labels["dockerflow.owner.host"] and labels["dockerflow.task"] == "+test+labelled"


# ---------------------------------------------------------------- limits


def test_timeout_stops_the_task(executor: DockerExecutor, images: str, project: Path) -> None:
    started = time.monotonic()
    result = executor.run(request(project, "echo start; sleep 30", timeout="1s"))
    assert result.reason is ExitReason.TIMEOUT
    assert result.message == "timed out after 1s"
    assert time.monotonic() - started < 10


def test_request_timeout_smaller_wins(executor: DockerExecutor, images: str, project: Path) -> None:
    req = request(project, "sleep 30", timeout="1h", req_timeout=1.0)
    result = executor.run(req)
    assert result.reason is ExitReason.TIMEOUT and result.message == "timed out after 1s"


def test_oom_is_reported(executor: DockerExecutor, images: str, project: Path) -> None:
    script = "python3 -c 'b = bytearray(256 * 1024 * 1024); print(len(b))'"
    result = executor.run(request(project, script, memory="32m"))
    assert result.reason is ExitReason.OOM, result
    assert result.message == "container killed: out of memory (memory limit 32m)"


def test_run_options_limits_apply(executor: DockerExecutor, images: str, project: Path) -> None:
    lines: list[str] = []
    script = "ulimit -n; cat /etc/hosts | grep -c dbhost; df -k /dev/shm | tail -1 | awk '{print $2}'"
    result = executor.run(
        request(project, script, lines, run_options=["--ulimit", "nofile=512:512", "--add-host", "dbhost:10.1.2.3",
                                                    "--shm-size", "16m", "--network", "none"])
    )
    assert result.exit_code == 0, lines
    assert lines == ["512", "1", str(16 * 1024)]


# ---------------------------------------------------------------- images and builds


def test_missing_image_names_it(executor: DockerExecutor, images: str, project: Path) -> None:
    with pytest.raises(ImageMissing, match="dockerflow-test/does-not-exist:nope"):
        executor.run(request(project, "true", image="dockerflow-test/does-not-exist:nope"))
    with pytest.raises(ImageMissing, match="'dockerflow-test/absent:1' is not present locally.*never"):
        executor.run(request(project, "true", image="dockerflow-test/absent:1", pull="never"))


def test_bad_option_is_a_clear_error(executor: DockerExecutor, images: str, project: Path) -> None:
    with pytest.raises(DockerOptionsError, match="'--entrypoint'"):  # parsed before the executor runs
        request(project, "true", run_options=["--entrypoint", "/bin/true"])


def test_needs_python(executor: DockerExecutor, images: str, project: Path) -> None:
    req = request(project, "python3 -c 'print(1+1)'", needs_python=True)
    lines: list[str] = []
    req.on_output = lines.append
    assert executor.run(req).exit_code == 0 and lines == ["2"]
    with pytest.raises(ExecutorError, match=f"image {NO_PYTHON_IMAGE} has no python3; py> tasks need python3"):
        executor.run(request(project, "true", image=NO_PYTHON_IMAGE, needs_python=True))


def _remove_image(client: docker.DockerClient, tag: str) -> None:
    try:
        client.images.remove(tag, force=True)
    except docker.errors.ImageNotFound:
        pass


def test_build_is_made_once_and_reused(client: docker.DockerClient, images: str, project: Path) -> None:
    marker = f"built-{time.time_ns()}"  # a fresh tag for this test run
    build = [f"echo {marker} > /built.txt", "echo second step"]
    first, second = DockerExecutor(client), DockerExecutor(client)
    lines: list[str] = []
    tag = ""
    try:
        assert first.run(request(project, "cat /built.txt", lines, build=build)).exit_code == 0
        assert first.resolver.builds == 1
        assert any(line.startswith("[docker build] ") and "second step" in line for line in lines)
        assert lines[-1] == marker
        tag = next(line.split()[3] for line in lines if line.startswith("[docker build] building "))
        lines.clear()
        assert second.run(request(project, "cat /built.txt", lines, build=build)).exit_code == 0
        assert second.resolver.builds == 0 and lines == [marker]
    finally:
        if tag:
            _remove_image(client, tag)


def test_concurrent_tasks_build_once(client: docker.DockerClient, images: str, project: Path) -> None:
    build = [f"echo concurrent-{time.time_ns()}"]
    executors = [DockerExecutor(client) for _ in range(3)]
    lines: list[str] = []
    lock = threading.Lock()

    def run(ex: DockerExecutor) -> int:
        req = request(project, "true", build=build)
        req.on_output = lambda line: (lock.acquire(), lines.append(line), lock.release())  # type: ignore[func-returns-value]
        return ex.run(req).exit_code

    try:
        with ThreadPoolExecutor(3) as pool:
            assert list(pool.map(run, executors)) == [0, 0, 0]
        assert sum(ex.resolver.builds for ex in executors) == 1
    finally:
        for line in lines:
            if line.startswith("[docker build] building "):
                _remove_image(client, line.split()[3])


def test_failing_build_gives_the_log_tail(executor: DockerExecutor, images: str, project: Path) -> None:
    build = ["echo step-one-output", "echo about-to-fail; exit 7"]
    with pytest.raises(BuildFailed) as info:
        executor.run(request(project, "true", build=build))
    message = str(info.value)
    assert "about-to-fail" in message and "returned a non-zero code: 7" in message
    assert info.value.tag.startswith("dockerflow-build:")


# ---------------------------------------------------------------- cancel


def test_cancel_all_stops_running_containers(executor: DockerExecutor, images: str, project: Path, client: docker.DockerClient) -> None:
    ready = threading.Barrier(3, timeout=30)
    results: list[ExecResult] = []

    def run(i: int) -> None:
        req = request(project, "echo ready; sleep 60", task_name=f"+cancel{i}")
        req.on_output = lambda line: ready.wait() if line == "ready" else None
        results.append(executor.run(req))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.monotonic()
    executor.cancel_all()
    for thread in threads:
        thread.join(15)
    assert time.monotonic() - started < 8
    assert [r.reason for r in results] == [ExitReason.CANCELED, ExitReason.CANCELED]
    assert client.containers.list(all=True, filters={"label": "dockerflow.task=+cancel0"}) == []
    # once canceled, later runs do not start a container
    assert executor.run(request(project, "echo never")).reason is ExitReason.CANCELED
