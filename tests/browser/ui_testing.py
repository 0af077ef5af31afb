"""Helpers of the browser tests (and bench/ui.py): a real `dockerflow server` process on
loopback, pushes, waits, and an attempt of many tasks written straight into the store."""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from dockerflow.archive import pack_project
from dockerflow.store import open_store
from dockerflow.store.base import AttemptStatus, TaskRecord

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from server_testing import Server  # noqa: E402 - the server tests' helper, shared


class UiServer(Server):
    """A real server (server_testing.Server) whose attempts unpack into the test's folder."""

    def __init__(self, database: str, folder: Path) -> None:
        super().__init__(database, folder, "--work-dir", str(folder / "work"))

    def push(self, folder: Path, project: str, revision: str, files: dict[str, str]) -> dict[str, Any]:
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
        r = self.http.put("/api/projects", params={"project": project, "revision": revision},
                          content=pack_project(folder), headers={"Content-Type": "application/gzip"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def workflow_id(self, project_id: str, name: str) -> str:
        return str(self.http.get(f"/api/projects/{project_id}/workflows/{name}").json()["id"])

    def start(self, workflow_id: str, session_time: str, params: dict[str, Any] | None = None) -> str:
        r = self.http.put("/api/attempts", json={"workflowId": workflow_id, "sessionTime": session_time,
                                                 "params": params or {}})
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def wait_done(self, attempt_id: str, seconds: float = 60) -> dict[str, Any]:
        deadline = time.time() + seconds
        while True:
            attempt = self.http.get(f"/api/attempts/{attempt_id}").json()
            if attempt["done"]:
                return dict(attempt)
            assert time.time() < deadline, attempt
            time.sleep(0.1)

    def wait_task(self, attempt_id: str, name: str, state: str, seconds: float = 30) -> None:
        deadline = time.time() + seconds
        while True:
            tasks = self.http.get(f"/api/attempts/{attempt_id}/tasks").json()["tasks"]
            if any(t["fullName"] == name and t["state"] == state for t in tasks):
                return
            assert time.time() < deadline, tasks
            time.sleep(0.1)


def seed_big_attempt(database: str, folder: Path, tasks: int = 10_000, failed: int = 3) -> int:
    """A finished attempt of `tasks` tasks (a parallel group of them under the root), written
    straight into the store as the coordinator writes them: no task runs. Returns its id."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "big.dig").write_text("+loop:\n  for_range>:\n    from: 0\n    to: %d\n  _parallel: true\n"
                                    "  _do:\n    sh>: echo ${range.index}\n" % tasks)
    store = open_store(database)
    try:
        schedule = {"daily>": "07:00:00"}
        project, revision = store.put_revision(
            "big", "r1", pack_project(folder), [("big", "UTC", {"schedule": schedule, "+loop": {"for_range>": {}}})],
            **_schedules(schedule))
        workflow = store.workflows_of(revision.id)[0]
        session = store.open_session("big", "2024-05-01T00:00:00+00:00", str(uuid.uuid4()), project_id=project.id)
        attempt = store.start_attempt(session.id, {"size": tasks}, workflow_id=workflow.id)
        t0 = time.time() - 600
        store.save_task(TaskRecord(attempt, "+big", "group_error" if failed else "success", started_at=t0,
                                   finished_at=t0 + 590, task_id=1, parent_id=None, is_group=True, config={}))
        store.save_task(TaskRecord(attempt, "+big+loop", "group_error" if failed else "success",
                                   started_at=t0, finished_at=t0 + 590, task_id=2, parent_id=1,
                                   is_group=True, config={"for_range>": {}}))
        for i in range(tasks):
            name = f"+big+loop^sub+range-{i}"
            bad = i % max(1, tasks // max(failed, 1)) == 7 and failed > 0
            start = t0 + (i * 580 / tasks)
            store.save_task(TaskRecord(attempt, name, "error" if bad else "success", started_at=start,
                                       finished_at=start + 5, task_id=3 + i, parent_id=2, is_group=False,
                                       config={"sh>": f"echo {i}"},
                                       error={"message": f"Command failed with code {i % 5 + 1}"} if bad else None))
            if i < 50 or bad:
                store.append_log(attempt, name, [f"task {i}", "done" if not bad else "failing"])
        store.flush()
        store.finish_attempt(attempt, AttemptStatus.ERROR if failed else AttemptStatus.SUCCESS)
        return attempt
    finally:
        store.close()


def _schedules(schedule: dict[str, Any]) -> dict[str, Any]:
    """put_revision's schedules= for `big` (due in 2030: nothing fires), when the store keeps
    schedules."""
    try:
        from dockerflow.store.base import ScheduleSpec  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return {}
    first = 1_893_488_400.0  # 2030-01-01T07:00:00Z
    stored = {"schedule": schedule, "timezone": "UTC"}  # as the server's scheduler stores it
    return {"schedules": [ScheduleSpec("big", stored, first, "2030-01-01T00:00:00+00:00")]}


def seed_attempts(database: str, count: int, project: str = "big") -> None:
    """`count` finished attempts (one per session, statuses mixed) of the project's first
    workflow, written straight into the store."""
    store = open_store(database)
    try:
        found = store.live_project(project)
        assert found is not None
        revision = store.revision(found.id)
        assert revision is not None
        workflow = store.workflows_of(revision.id)[0]
        statuses = (AttemptStatus.SUCCESS, AttemptStatus.SUCCESS, AttemptStatus.ERROR, AttemptStatus.KILLED)
        base = 1_600_000_000
        for i in range(count):
            when = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + 3600 * i))
            session = store.open_session(workflow.name, when, str(uuid.uuid4()), project_id=found.id)
            attempt = store.start_attempt(session.id, {}, workflow_id=workflow.id)
            store.finish_attempt(attempt, statuses[i % len(statuses)])
    finally:
        store.close()


SHOTS = os.environ.get("DOCKERFLOW_SCREENSHOTS")


@dataclass
class Ui:
    server: UiServer
    url: str
    project_id: str
    workflows: dict[str, str]
    big_attempt: int
    folder: Path
    sessions: list[int] = field(default_factory=lambda: [0])

    def session_time(self) -> str:
        """A session time no other test used (each start needs its own session)."""
        self.sessions[0] += 1
        return f"2024-05-{self.sessions[0]:02d}T00:00:00+09:00"


class Console:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []  # substrings of errors a test expects (a 404 page)

    def check(self) -> None:
        bad = [e for e in self.errors if not any(a in e for a in self.allowed)]
        assert bad == [], f"console errors: {bad}"


def shot(page: Page, name: str) -> None:
    """A PNG of the page's viewport (1280x800) into $DOCKERFLOW_SCREENSHOTS, when set."""
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    tmp = folder / f".{name}.tmp.png"
    page.screenshot(path=str(tmp))
    shutil.move(tmp, target)
