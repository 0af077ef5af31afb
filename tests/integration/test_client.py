"""The Python client (dockerflow.client) and the client commands (push, start, attempts, log
-f...) against a real `dockerflow server` over SQLite and PostgreSQL, with host tasks only;
and what both say when no server answers."""

from __future__ import annotations

import io
import json
import os
import queue
import subprocess
import sys
import tarfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from server_testing import Server, free_port

from dockerflow.client import (
    ApiError,
    AttemptConflict,
    BadRequest,
    Client,
    Conflict,
    NotFound,
    ServerUnreachable,
)

CLI = [sys.executable, "-m", "dockerflow"]
MAY_1 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def project_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def dockerflow(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, DOCKERFLOW_ENDPOINT=""))


def wait_for_task(client: Client, attempt_id: str, task: str, wanted: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while True:
        states = {t.full_name: t.state for t in client.get_tasks(attempt_id)}
        if states.get(task) == wanted:
            return
        assert time.time() < deadline, states
        time.sleep(0.1)


PROJECT = {
    "wf.dig": "+hello:\n  sh>: echo hello ${who}\n+group:\n  +inner:\n    echo>: inner\n",
    "slow.dig": "+sleep:\n  sh>: sleep 60\n",
    "flaky.dig": '+first:\n  sh>: echo first-ran\n+check:\n  sh>: test "${ok}" = yes && echo checked\n',
    ".hidden": "left out of the push\n",
}


def test_python_client_end_to_end(server: Server, tmp_path: Path) -> None:
    folder = project_folder(tmp_path, PROJECT)
    with Client(server.url + "/api/") as client:
        assert client.version().version and client.version().server.startswith("dockerflow")
        project = client.push_project("demo", folder, revision="r1")
        assert (project.name, project.revision) == ("demo", "r1") and project.id.isdigit()
        assert [p.id for p in client.get_projects()] == [project.id]
        assert client.get_project_by_name("demo").id == client.get_project(project.id).id == project.id
        assert [r.revision for r in client.get_project_revisions(project.id)] == ["r1"]
        assert sorted(w.name for w in client.get_project_workflows(project.id)) == ["flaky", "slow", "wf"]
        wf = client.get_project_workflow_by_name(project.id, "wf")
        assert client.get_workflow(wf.id).config == wf.config and wf.project.name == "demo"
        assert wf.raw["project"] == {"id": project.id, "name": "demo"}  # the API's JSON, camelCase
        with tarfile.open(fileobj=io.BytesIO(client.download_project(project.id)), mode="r:gz") as tar:
            assert sorted(tar.getnames()) == ["flaky.dig", "slow.dig", "wf.dig"]  # no dot-files
        hour = client.truncated_session_time(wf.id, datetime(2024, 5, 1, 13, 14, 15, tzinfo=timezone.utc),
                                             mode="hour")
        assert hour.session_time == datetime(2024, 5, 1, 13, tzinfo=timezone.utc)

        # start, wait, tasks, logs
        started = client.start_attempt(wf.id, MAY_1, {"who": "you"})
        assert started.workflow.id == wf.id and started.params == {"who": "you"}
        done = client.wait(started.id, timeout=60, poll=0.1)
        assert done.done and done.success and done.state == "success" and done.index == 1
        assert done.session_time == MAY_1 and done.finished_at is not None
        assert [t.full_name for t in client.get_tasks(done.id)] == ["+wf", "+wf+hello", "+wf+group",
                                                                    "+wf+group+inner"]
        files = {f.task_name: f for f in client.get_log_files(done.id)}
        assert client.get_log(done.id, files["+wf+hello"].file_name) == "hello you\n"
        assert [f.task_name for f in client.get_log_files(done.id, task="+wf+group")] == ["+wf+group+inner"]

        # the 409 of a second start of the session carries the existing attempt
        with pytest.raises(AttemptConflict) as conflict:
            client.start_attempt(wf.id, "2024-05-01T00:00:00Z")
        assert isinstance(conflict.value, Conflict) and conflict.value.status == 409
        assert conflict.value.attempt.id == done.id and conflict.value.attempt.success

        with pytest.raises(NotFound) as missing:
            client.get_attempt("999999")
        assert missing.value.message == "attempt id=999999 not found"
        with pytest.raises(NotFound):
            client.get_project_by_name("nope")
        with pytest.raises(BadRequest):
            client.get_sessions(page_size=1000)

        # kill a running host task
        slow = client.get_project_workflow_by_name(project.id, "slow")
        running = client.start_attempt(slow.id, MAY_1)
        wait_for_task(client, running.id, "+slow+sleep", "running")
        assert client.kill(running.id).cancel_requested
        killed = client.wait(running.id, timeout=30, poll=0.1)
        assert killed.state == "killed" and not killed.success
        with pytest.raises(Conflict):
            client.kill(running.id)

        # a failure, then a retry that resumes it with a fixed parameter
        flaky = client.get_project_workflow_by_name(project.id, "flaky")
        failed = client.wait(client.start_attempt(flaky.id, MAY_1, {"ok": "no", "keep": 1}).id, 60, 0.1)
        assert failed.state == "error"
        second = client.wait(client.retry(failed.id, resume="failed", params={"ok": "yes"}, name="fixed").id,
                             60, 0.1)
        assert second.success and second.index == 2 and second.retry_attempt_name == "fixed"
        assert second.session_id == failed.session_id and second.params == {"ok": "yes", "keep": 1}
        logs = {f.task_name: f.file_name for f in client.get_log_files(second.id)}
        assert list(logs) == ["+flaky+check"]  # +first succeeded before: not run again
        assert client.get_log(second.id, logs["+flaky+check"]) == "checked\n"
        assert [a.id for a in client.get_attempt_retries(second.id)] == [failed.id, second.id]
        with pytest.raises(BadRequest):
            client.retry(second.id, resume="failed")  # nothing failed
        everything = client.wait(client.retry(second.id, revision="latest").id, 60, 0.1)
        assert everything.success and everything.index == 3  # no resume: every task again
        assert {f.task_name for f in client.get_log_files(everything.id)} == {"+flaky+first", "+flaky+check"}

        # paging backwards, one item a page
        every = [a.id for a in client.iter_attempts(include_retried=True, page_size=1)]
        assert every == sorted(every, key=int, reverse=True) and len(every) == 5
        assert [a.id for a in client.iter_attempts(page_size=2)] == [everything.id, killed.id, done.id]
        sessions = list(client.iter_sessions(page_size=1))
        assert len(sessions) == 3 and sessions[0].last_attempt is not None
        assert sessions[0].last_attempt.id == everything.id
        assert [s.id for s in client.get_sessions(project_id=project.id, workflow="wf")] == [done.session_id]
        assert [a.id for a in client.get_session_attempts(failed.session_id)] == [everything.id, second.id,
                                                                                  failed.id]

        assert client.delete_project(project.id).deleted_at is not None
        with pytest.raises(NotFound):
            client.get_project(project.id)


def test_cli_push_start_attempts_and_log_follow(server: Server, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    folder = project_folder(tmp_path, {
        "wf.dig": "timezone: Asia/Tokyo\n+hello:\n  sh>: echo hello ${who}\n",
        # five lines, then (until the test has read them through `log -f`) wait, then five more
        "lines.dig": "+print:\n  sh>: for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done;"
                     f" n=0; while [ ! -f {gate} ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done;"
                     " for i in 6 7 8 9 10; do echo line-$i; sleep 0.2; done\n",
    })
    url = server.url
    pushed = dockerflow("push", "demo", "--project", str(folder), "-r", "r1", "-e", url)
    assert pushed.returncode == 0, pushed.stderr
    assert "Uploaded:" in pushed.stdout and "revision: r1" in pushed.stdout

    started = dockerflow("start", "demo", "wf", "--session", "2024-05-01", "-p", "who=cli", "-e", url, "--json")
    assert started.returncode == 0, started.stderr
    attempt = json.loads(started.stdout)
    assert attempt["sessionTime"] == "2024-05-01T00:00:00+09:00"  # a date is a day in the workflow's zone
    assert attempt["params"] == {"who": "cli"}
    with Client(url) as client:
        assert client.wait(attempt["id"], 60, 0.1).success

    again = dockerflow("start", "demo", "wf", "--session", "2024-05-01", "-e", url)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert f"attempt id {attempt['id']}" in again.stderr and again.stderr.startswith("error: ")

    listed = dockerflow("attempts", "--json", "-e", url)
    assert listed.returncode == 0, listed.stderr
    assert [a["id"] for a in json.loads(listed.stdout)["attempts"]] == [attempt["id"]]
    text = dockerflow("log", attempt["id"], "+wf+hello", "-e", url)
    assert (text.returncode, text.stdout) == (0, "hello cli\n")
    plain = dockerflow("attempts", "-e", url)  # not a terminal: plain aligned columns
    header, row = plain.stdout.splitlines()
    assert header.split()[:2] == ["ATTEMPT", "SESSION"] and row.split()[0] == attempt["id"]
    assert "success" in row

    missing = dockerflow("attempt", "999999", "-e", url)
    assert (missing.returncode, missing.stderr) == (1, "error: attempt id=999999 not found\n")
    bad_flags = dockerflow("retry", attempt["id"], "--all", "-e", url)
    assert bad_flags.returncode == 2 and "--latest-revision or --keep-revision" in bad_flags.stderr

    # log -f: the lines show while the task runs, each once and in order, and the command ends
    # with the attempt
    with Client(url) as client:
        lines_wf = client.get_project_workflow_by_name(client.get_project_by_name("demo").id, "lines")
        running = client.start_attempt(lines_wf.id, MAY_1)
        follow = subprocess.Popen(CLI + ["log", running.id, "-f", "-e", url], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        got: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert follow.stdout is not None
            for line in follow.stdout:
                got.put(line.rstrip("\n"))
            got.put(None)

        threading.Thread(target=read, daemon=True).start()
        seen: list[str] = []
        try:
            while "line-5" not in seen:
                line = got.get(timeout=30)
                assert line is not None, (seen, follow.stderr.read() if follow.stderr else "")
                seen.append(line)
            assert not client.get_attempt(running.id).done  # it waits for the gate: -f followed
            gate.touch()
            while (line := got.get(timeout=30)) is not None:
                seen.append(line)
            assert follow.wait(30) == 0
        finally:
            if follow.poll() is None:
                follow.kill()
                follow.wait()
        assert client.get_attempt(running.id).done
    assert seen == ["==> +lines+print <=="] + [f"line-{i}" for i in range(1, 11)]


def test_no_server_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = dockerflow("attempts", "-e", url)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr == f"error: no dockerflow server answers at {url}: start one with dockerflow server\n"
    with Client(url + "/api", timeout=5) as client:
        with pytest.raises(ServerUnreachable) as unreachable:
            client.get_projects()
        assert unreachable.value.endpoint == url and not isinstance(unreachable.value, ApiError)
        with pytest.raises(ValueError, match="naive"):
            client.start_attempt("1", datetime(2024, 5, 1))  # refused before any request
    assert dockerflow("log", "1", "-f", "--json", "-e", url).returncode == 2


def test_json_of_a_model_made_in_python() -> None:
    from dockerflow.client import Attempt

    data: dict[str, Any] = {
        "id": "7", "index": 1, "project": {"id": "1", "name": "demo"},
        "workflow": {"name": "wf", "id": "3"}, "sessionId": "2", "sessionUuid": "u",
        "sessionTime": "2024-05-01T09:00:00+09:00", "retryAttemptName": None, "done": True,
        "success": False, "cancelRequested": True, "params": {}, "createdAt": "2024-05-01T00:00:01Z",
        "finishedAt": "2024-05-01T00:00:02Z", "status": "killed", "newerField": 1}
    parsed = Attempt.from_api(data)
    assert parsed.raw == data and parsed.cancel_requested and parsed.state == "killed"
    rebuilt = Attempt.model_validate(data)  # without from_api: .raw is rebuilt from the fields
    assert rebuilt.raw == data


def test_the_client_authenticates_as_the_server_asks(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t0ken\n")
    (tmp_path / "users").write_text("ann:pa55\n")
    with_token = Server(f"sqlite:///{tmp_path / 't.db'}", tmp_path, "--auth", "token", "--auth-file",
                        str(tmp_path / "token"))
    try:
        refused = dockerflow("projects", "-e", with_token.url)
        assert refused.returncode == 1 and "Authentication failed" in refused.stderr
        assert dockerflow("projects", "-e", with_token.url, "--token", "t0ken", "--json").returncode == 0
        with Client(with_token.url, token="t0ken") as client:
            assert client.get_projects() == []
    finally:
        with_token.stop()
    with_users = Server(f"sqlite:///{tmp_path / 'b.db'}", tmp_path, "--auth", "basic", "--auth-file",
                        str(tmp_path / "users"))
    try:
        assert dockerflow("projects", "-e", with_users.url, "--basic-auth", "ann:pa55").returncode == 0
        assert dockerflow("projects", "-e", with_users.url, "--basic-auth", "ann:no").returncode == 1
        assert dockerflow("projects", "-e", with_users.url, "-H",
                          "Authorization=Basic YW5uOnBhNTU=").returncode == 0  # ann:pa55
    finally:
        with_users.stop()
