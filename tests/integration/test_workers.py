"""Attempts coordinated through a database, run by `dockerflow worker` processes.

`run --database URL --workers 0` leaves every task to external workers. Over SQLite and a
real PostgreSQL: a worker killed with kill -9 mid-task has its tasks run again by the other
one after their leases expire, the attempt succeeds, each task is recorded once and no
container is left; Ctrl-C of the coordinating run stops its containers on both workers and
leaves another attempt on the same workers alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockerflow.store import open_store
from dockerflow.store.base import AttemptStatus

CLI = [sys.executable, "-m", "dockerflow"]
IMAGE = "dockerflow/debian-base:bookworm"

pytestmark = pytest.mark.docker


def parallel_workflow(count: int, seconds: int, marker: str = "") -> str:
    tasks = "".join(f"  +t{i}:\n    sh>: touch {marker}started-{i}; sleep {seconds}; echo done-{i}\n"
                    for i in range(count))
    return f"_export:\n  docker:\n    image: {IMAGE}\n+p:\n  _parallel: true\n{tasks}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("pg_url"))


class Workers:
    """`dockerflow worker` processes on one database; stopped (and checked) at the end."""

    def __init__(self, database: str, folder: Path) -> None:
        self.database = database
        self.folder = folder
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, threads: int = 3) -> subprocess.Popen[str]:
        log = open(self.folder / f"worker-{len(self.procs)}.log", "w")
        proc = subprocess.Popen(CLI + ["worker", "--database", self.database, "--lease", "3s",
                                       "--max-task-threads", str(threads)],
                                stdout=log, stderr=subprocess.STDOUT, text=True,
                                cwd=self.folder)
        self.procs.append(proc)
        deadline = time.time() + 30
        while "waiting for tasks" not in self.log(len(self.procs) - 1):
            assert proc.poll() is None, self.log(len(self.procs) - 1)
            assert time.time() < deadline, "the worker did not start"
            time.sleep(0.05)
        return proc

    def log(self, index: int) -> str:
        return (self.folder / f"worker-{index}.log").read_text()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(database: str, tmp_path: Path, runner_images: None) -> Iterator[Workers]:
    group = Workers(database, tmp_path)
    yield group
    group.stop()


def containers_of(project: Path) -> list[str]:
    client = docker.from_env()
    try:
        return [c.name for c in client.containers.list(all=True, filters={"label": "dockerflow=1"})
                if c.attrs["Config"]["WorkingDir"].startswith(str(project))]
    finally:
        client.close()


def wait_for(check: object, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not check():  # type: ignore[operator]
        assert time.time() < deadline, what
        time.sleep(0.1)


def start_run(project: Path, database: str) -> subprocess.Popen[str]:
    return subprocess.Popen(CLI + ["run", "wf.dig", "--session", "2024-03-05", "--database",
                                   database, "--workers", "0"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_worker_killed_mid_task_loses_nothing(database: str, workers: Workers,
                                               tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "wf.dig").write_text(parallel_workflow(6, 4))
    first = workers.start()
    workers.start()
    run = start_run(project, database)
    # both workers run tasks (3 threads each, 6 tasks): then one of them dies
    wait_for(lambda: all(workers.log(i).count("started") >= 1 for i in (0, 1)), 120,
             "both workers should have started tasks")
    wait_for(lambda: len(list(project.glob("started-*"))) >= 6, 120, "every task should start")
    first.send_signal(signal.SIGKILL)
    first.wait()
    out, err = run.communicate(timeout=180)
    assert run.returncode == 0, out + err
    for i in range(6):
        assert f"done-{i}" in out
    store = open_store(database)
    try:
        attempt = store.last_attempt(store.open_session("wf", "2024-03-05T00:00:00+00:00", "x").id)
        assert attempt is not None and attempt.status.value == "success"
        records = [r for r in store.tasks(attempt.id) if r.name.startswith("+wf+p+t")]
    finally:
        store.close()
    assert sorted(r.name for r in records) == [f"+wf+p+t{i}" for i in range(6)]  # each once
    assert all(r.state == "success" for r in records)
    assert "started" in workers.log(1)  # the survivor took over the dead worker's tasks
    wait_for(lambda: containers_of(project) == [], 30, "no container may be left behind")


def test_ctrl_c_of_the_run_stops_only_its_attempt(database: str, workers: Workers,
                                                 tmp_path: Path) -> None:
    stopped, other = tmp_path / "stopped", tmp_path / "other"
    for project in (stopped, other):
        project.mkdir()
    (stopped / "wf.dig").write_text(parallel_workflow(4, 60))
    (other / "wf.dig").write_text(parallel_workflow(2, 6))
    workers.start()
    workers.start()
    run_stopped = start_run(stopped, database)
    wait_for(lambda: len(list(stopped.glob("started-*"))) >= 4, 120, "the long tasks should start")
    run_other = start_run(other, database)
    wait_for(lambda: len(list(other.glob("started-*"))) >= 1, 120, "the other attempt should start")
    assert all("started" in workers.log(i) for i in (0, 1))
    began = time.time()
    run_stopped.send_signal(signal.SIGINT)
    out, err = run_stopped.communicate(timeout=60)
    assert run_stopped.returncode == 130, out + err
    wait_for(lambda: containers_of(stopped) == [], 20, "the stopped attempt's containers must go")
    assert time.time() - began < 25  # within the grace period, not after the 60 s sleeps
    out, err = run_other.communicate(timeout=120)
    assert run_other.returncode == 0, out + err  # untouched
    assert "done-0" in out and "done-1" in out
    assert containers_of(other) == []


def test_a_project_the_worker_cannot_see_runs_from_the_archive(tmp_path: Path) -> None:
    """A worker elsewhere (here: the project folder is gone by the time it claims) unpacks
    the project from the archive the run stored in the database."""
    from dockerflow.executors.host import HostExecutor
    from dockerflow.runtime.consumer import Consumer, StoreEvents, pack_project
    from dockerflow.runtime.requests import TaskRequest
    from dockerflow.runtime.worker import TaskWorker

    project = tmp_path / "project"
    project.mkdir()
    (project / "script.sh").write_text("echo from-the-archive\n")
    store = open_store(str(tmp_path / "db.sqlite"))
    try:
        digest = store.put_archive(pack_project(project))
        session = store.open_session("wf", "2024-03-05T00:00:00+00:00", "u")
        attempt = store.start_attempt(session.id)
        gone = str(tmp_path / "not-here")
        request = TaskRequest(attempt, 1, "+wf+a", "sh", {"_command": "sh script.sh"},
                              {"timezone": "UTC"}, gone, gone + "/.dockerflow/io", "wf",
                              labels={"attempt": str(attempt)}, archive=digest)
        store.enqueue(attempt, "+wf+a", request.to_json())
        worker = TaskWorker(StoreEvents(store), HostExecutor())
        consumer = Consumer(store, worker, cache_dir=tmp_path / "cache", lease_seconds=5)
        claim = store.claim(consumer.owner, 5)
        assert claim is not None
        consumer._slot(claim)
        outcomes = store.take_outcomes(attempt)
        assert [o.outcome["kind"] for o in outcomes] == ["success"], outcomes
        assert store.task_log(attempt, "+wf+a") == ["from-the-archive"]
        assert (tmp_path / "cache" / digest / "script.sh").is_file()
        store.finish_attempt(attempt, AttemptStatus.SUCCESS)
    finally:
        store.close()
    assert os.path.isdir(project)


def test_run_with_its_own_workers_runs_require_and_wait(tmp_path: Path) -> None:
    """`--workers 1` (the default with --database): the run claims its own tasks; require>
    attempts are coordinated in the same process, wait> polls without a worker."""
    (tmp_path / "child.dig").write_text("+c:\n  sh>: echo child-ran\n")
    (tmp_path / "wf.dig").write_text("+r:\n  require>: child\n+w:\n  wait>: 1s\n"
                                     "+s:\n  sh>: echo parent-ran\n")
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    r = subprocess.run(CLI + ["run", "wf.dig", "--session", "2024-03-05", "--database", database],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "child-ran" in r.stdout and "parent-ran" in r.stdout
    store = open_store(database)
    try:
        child = store.last_attempt(store.open_session("child", "2024-03-05T00:00:00+00:00", "x").id)
        assert child is not None and child.status is AttemptStatus.SUCCESS
    finally:
        store.close()


def test_a_stopped_worker_hands_its_tasks_back(tmp_path: Path) -> None:
    """SIGTERM of a worker stops its commands and gives their requests back: another worker
    runs them and the attempt succeeds."""
    (tmp_path / "wf.dig").write_text("+t:\n  sh>: echo start >> starts.txt; sleep 20; echo finished\n")
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    group = Workers(database, tmp_path)
    try:
        first = group.start()
        run = start_run(tmp_path, database)
        wait_for(lambda: (tmp_path / "starts.txt").exists(), 60, "the task should start")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 128 + signal.SIGTERM
        assert "stopped after 0 tasks" in group.log(0)
        (tmp_path / "wf.dig").write_text("changed: the request in the database is what runs\n")
        group.start()
        out, err = run.communicate(timeout=120)
    finally:
        group.stop()
    assert run.returncode == 0, out + err
    assert "finished" in out and (tmp_path / "starts.txt").read_text() == "start\nstart\n"


def test_a_kill_request_written_to_the_database_stops_the_attempt(tmp_path: Path) -> None:
    """What `dockerflow kill` and the server's API will do: another process asks, through the
    store; the worker stops the task, the coordinating run ends as killed."""
    (tmp_path / "wf.dig").write_text("+t:\n  sh>: echo start >> starts.txt; sleep 60; echo late >> starts.txt\n"
                                     "+after:\n  sh>: echo after >> starts.txt\n")
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    group = Workers(database, tmp_path)
    try:
        group.start()
        run = start_run(tmp_path, database)
        wait_for(lambda: (tmp_path / "starts.txt").exists(), 60, "the task should start")
        store = open_store(database)
        try:
            attempt = store.last_attempt(store.open_session("wf", "2024-03-05T00:00:00+00:00", "x").id)
            assert attempt is not None
            began = time.time()
            store.request_cancel(attempt.id)
            out, err = run.communicate(timeout=60)
            assert time.time() - began < 30
            record = store.get_attempt(attempt.id)
            assert record is not None and record.status is AttemptStatus.KILLED
        finally:
            store.close()
    finally:
        group.stop()
    assert run.returncode == 1, out + err
    assert "Killed: a kill request for this attempt" in err
    assert (tmp_path / "starts.txt").read_text() == "start\n"  # not finished, +after never ran
