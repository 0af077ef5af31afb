"""Attempts through a real `dockerflow server` over SQLite and PostgreSQL: start (and the 409
of a duplicate), sessions, tasks, logs while a task runs, kill of a running container task
(no container left), retry with resume, every response against the clients' contract."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import docker
import pytest
from rest_contract import check
from server_testing import Server, error_of

from dockerflow.archive import pack_project

IMAGE = "dockerflow/debian-base:bookworm"


def wait_done(server: Server, attempt_id: str, seconds: float = 120) -> dict[str, Any]:
    deadline = time.time() + seconds
    while True:
        attempt = server.http.get(f"/api/attempts/{attempt_id}").json()
        if attempt["done"]:
            return dict(attempt)
        assert time.time() < deadline, attempt
        time.sleep(0.2)


def push(server: Server, tmp_path: Path, files: dict[str, str], revision: str = "r1") -> dict[str, Any]:
    folder = tmp_path / f"proj-{revision}"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    r = server.push("demo", revision, pack_project(folder))
    assert r.status_code == 200, r.text
    return dict(r.json())


def workflow_id(server: Server, project_id: str, name: str) -> str:
    return str(server.http.get(f"/api/projects/{project_id}/workflows/{name}").json()["id"])


def start(server: Server, wid: str, session_time: str = "2024-05-01T00:00:00Z", **extra: Any) -> Any:
    return server.http.put("/api/attempts", json={"workflowId": wid, "sessionTime": session_time,
                                                  "params": {"who": "you"}, **extra})


def test_start_watch_and_read_an_attempt(server: Server, tmp_path: Path) -> None:
    project = push(server, tmp_path, {"wf.dig": "timezone: Asia/Tokyo\n+hello:\n  sh>: echo hello ${who}\n"
                                                "+group:\n  +inner:\n    echo>: inner ${session_date}\n"})
    wid = workflow_id(server, project["id"], "wf")
    r = start(server, wid)
    assert r.status_code == 200, r.text
    check("RestSessionAttempt", r.json())
    attempt = wait_done(server, r.json()["id"])
    check("RestSessionAttempt", attempt)
    assert attempt["success"] and attempt["status"] == "success" and attempt["index"] == 1
    assert attempt["sessionTime"] == "2024-05-01T09:00:00+09:00"  # the workflow's zone
    assert attempt["workflow"] == {"name": "wf", "id": wid} and attempt["params"] == {"who": "you"}

    duplicate = start(server, wid)
    assert duplicate.status_code == 409  # carries the existing attempt
    check("RestSessionAttempt", duplicate.json())
    assert duplicate.json()["id"] == attempt["id"]

    tasks = server.http.get(f"/api/attempts/{attempt['id']}/tasks").json()
    check("RestTaskCollection", tasks)
    by_name = {t["fullName"]: t for t in tasks["tasks"]}
    assert list(by_name) == ["+wf", "+wf+hello", "+wf+group", "+wf+group+inner"]
    assert all(t["state"] == "success" for t in tasks["tasks"])
    assert by_name["+wf+group"]["isGroup"] and by_name["+wf+group+inner"]["parentId"] == by_name["+wf+group"]["id"]
    assert by_name["+wf+group"]["upstreams"] == [by_name["+wf+hello"]["id"]]
    assert by_name["+wf+hello"]["config"]["_command"] == "echo hello ${who}"

    files = server.http.get(f"/api/logs/{attempt['id']}/files").json()
    check("RestLogFileHandleCollection", files)
    names = {f["taskName"]: f["fileName"] for f in files["files"]}
    log = server.http.get(f"/api/logs/{attempt['id']}/files/{names['+wf+hello']}")
    assert log.headers["content-type"] == "application/gzip"
    assert gzip.decompress(log.content).decode() == "hello you\n"
    only = server.http.get(f"/api/logs/{attempt['id']}/files", params={"task": "+wf+group"}).json()
    assert [f["taskName"] for f in only["files"]] == ["+wf+group+inner"]

    sessions = server.http.get("/api/sessions").json()
    check("RestSessionCollection", sessions)
    session = sessions["sessions"][0]
    assert session["lastAttempt"]["id"] == attempt["id"] and session["workflow"]["id"] == wid
    check("RestSession", server.http.get(f"/api/sessions/{session['id']}").json())
    for url in (f"/api/sessions/{session['id']}/attempts", "/api/attempts",
                f"/api/attempts/{attempt['id']}/retries"):
        listed = server.http.get(url, params={"project": "demo"} if url == "/api/attempts" else None).json()
        check("RestSessionAttemptCollection", listed)
        assert [a["id"] for a in listed["attempts"]] == [attempt["id"]], url
    assert server.http.get(f"/api/projects/{project['id']}/sessions").json()["sessions"][0]["id"] == session["id"]
    error_of(server.http.get("/api/attempts", params={"project": "nope"}), 404)
    error_of(server.http.get("/api/attempts/999999"), 404)
    error_of(server.http.get("/api/sessions", params={"page_size": 1000}), 400)
    assert "already killed or finished" in error_of(server.http.post(f"/api/attempts/{attempt['id']}/kill"), 409)


def test_kill_a_running_container_task_then_retry_with_resume(server: Server, tmp_path: Path,
                                                             runner_images: None) -> None:
    def project_files(sleep: int) -> dict[str, str]:
        return {"wf.dig": (f"_export:\n  docker:\n    image: {IMAGE}\n+first:\n  sh>: echo first-ran\n"
                           f"+slow:\n  sh>: echo slow-started; sleep {sleep}; echo slow-finished\n")}

    project = push(server, tmp_path, project_files(120))
    wid = workflow_id(server, project["id"], "wf")
    attempt_id = start(server, wid).json()["id"]
    deadline = time.time() + 120
    while True:  # the slow task runs, and its output is readable while it runs
        files = server.http.get(f"/api/logs/{attempt_id}/files", params={"task": "+wf+slow"}).json()["files"]
        if files:
            text = gzip.decompress(server.http.get(f"/api/logs/{attempt_id}/files/{files[0]['fileName']}").content)
            if b"slow-started" in text:
                break
        assert time.time() < deadline, "the slow task's output never showed"
        time.sleep(0.3)
    client = docker.from_env()
    mine = {"label": [f"dockerflow.attempt={attempt_id}", f"dockerflow.owner.pid={server.proc.pid}"]}
    assert len(client.containers.list(all=True, filters=mine)) == 1  # the slow task's, running
    killed = server.http.post(f"/api/attempts/{attempt_id}/kill", json={})
    assert killed.status_code == 200 and killed.json()["cancelRequested"] is True
    attempt = wait_done(server, attempt_id, 60)
    assert not attempt["success"] and attempt["status"] == "killed"
    try:
        deadline = time.time() + 30
        while client.containers.list(all=True, filters=mine):
            assert time.time() < deadline, "the killed attempt's container is still there"
            time.sleep(0.3)
    finally:
        client.close()

    fixed = push(server, tmp_path, project_files(0), revision="r2")  # a fix, pushed as a new revision
    wid = workflow_id(server, fixed["id"], "wf")
    retry = start(server, wid, retryAttemptName="second",
                  resume={"mode": "failed", "attemptId": attempt_id})
    assert retry.status_code == 200, retry.text
    second = wait_done(server, retry.json()["id"])
    assert second["success"] and second["index"] == 2 and second["retryAttemptName"] == "second"
    states = {t["fullName"]: t["state"] for t in
              server.http.get(f"/api/attempts/{second['id']}/tasks").json()["tasks"]}
    assert states["+wf+slow"] == "success"
    first_log = [f for f in server.http.get(f"/api/logs/{second['id']}/files").json()["files"]
                 if f["taskName"] == "+wf+first"]
    assert first_log == []  # resumed: +first succeeded before and did not run again
    retries = server.http.get(f"/api/attempts/{second['id']}/retries").json()["attempts"]
    assert [a["index"] for a in retries] == [1, 2]
    error = error_of(start(server, wid, retryAttemptName="third",
                           resume={"mode": "failed", "attemptId": second["id"]}), 400)
    assert "successfully completed" in error


@pytest.mark.parametrize("body, status", [
    ({}, 400),
    ({"workflowId": "999999", "sessionTime": "2024-05-01T00:00:00Z"}, 404),
    ({"workflowId": "1", "sessionTime": "2024-05-01 00:00:00"}, 400),
    ({"workflowId": "1"}, 400),
    ({"workflowId": "1", "sessionTime": "2024-05-01T00:00:00Z", "params": "x"}, 400),
    ({"workflowId": "9" * 40, "sessionTime": "2024-05-01T00:00:00Z"}, 404),  # larger than any id
    ({"workflowId": True, "sessionTime": "2024-05-01T00:00:00Z"}, 400),
    ({"workflowId": "1", "sessionTime": "2024-05-01T00:00:00Z",
      "resume": {"mode": "failed", "attemptId": "9" * 40}}, 404),
])
def test_bad_starts_are_the_clients_mistake(server: Server, tmp_path: Path, body: dict[str, Any],
                                            status: int) -> None:
    push(server, tmp_path, {"wf.dig": "+a:\n  echo>: a\n"})
    error_of(server.http.put("/api/attempts", json=body), status)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_server_killed_mid_attempt_is_carried_on_by_the_next(kind: str, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    database = f"sqlite:///{tmp_path / 'server.db'}" if kind == "sqlite" \
        else str(request.getfixturevalue("pg_url"))
    marks = tmp_path / "marks.txt"
    first = Server(database, tmp_path, "--lease", "2s")
    try:
        project = push(first, tmp_path, {"wf.dig": (
            f"+a:\n  sh>: echo a >> {marks}\n"
            f"+slow:\n  sh>: echo slow >> {marks}; sleep 3\n"
            f"+c:\n  sh>: echo c >> {marks}\n")})
        attempt_id = start(first, workflow_id(first, project["id"], "wf")).json()["id"]
        deadline = time.time() + 60
        while not (marks.exists() and "slow" in marks.read_text()):
            assert time.time() < deadline, "the slow task never started"
            time.sleep(0.1)
        first.proc.kill()  # kill -9: no goodbye, its lease just expires
        first.proc.wait()
    finally:
        first.http.close()
    second = Server(database, tmp_path, "--lease", "2s")
    try:
        attempt = wait_done(second, attempt_id, 90)
        assert attempt["success"], attempt
        lines = marks.read_text().split()
        assert lines.count("a") == 1  # what succeeded is not run again
        assert lines.count("slow") == 2  # the task in flight is (at-least-once)
        assert lines.count("c") == 1
        states = {t["fullName"]: t["state"] for t in
                  second.http.get(f"/api/attempts/{attempt_id}/tasks").json()["tasks"]}
        assert set(states.values()) == {"success"}
    finally:
        second.stop()


def test_task_logs_kept_in_a_folder_with_task_log(tmp_path: Path) -> None:
    logs = tmp_path / "task-logs"
    server = Server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path, "--task-log", str(logs))
    try:
        project = push(server, tmp_path, {"wf.dig": "+hello:\n  sh>: echo hello ${who} && echo bye\n"})
        attempt = wait_done(server, start(server, workflow_id(server, project["id"], "wf")).json()["id"])
        assert attempt["success"]
        assert (logs / attempt["id"] / "+wf+hello.log").read_text() == "hello you\nbye\n"
        files = server.http.get(f"/api/logs/{attempt['id']}/files").json()["files"]
        assert [f["taskName"] for f in files] == ["+wf+hello"]
        data = server.http.get(f"/api/logs/{attempt['id']}/files/{files[0]['fileName']}").content
        assert gzip.decompress(data).decode() == "hello you\nbye\n"
        import sqlite3
        assert sqlite3.connect(tmp_path / "server.db").execute("SELECT COUNT(*) FROM task_logs").fetchone() == (0,)
    finally:
        server.stop()
