"""Failure alerts and SLAs on a real `dockerflow server` whose `-c FILE` sets a notifier: a
failing attempt sends one `^failure-alert` through each notifier type to a real receiver (an
SMTP server, an HTTP server, a shell command writing a file) with Digdag's JSON, and a broken
SLA sends "SLA violation"; `sla: fail: true` fails the attempt and its `+tasks` run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_testing import serve
from server_testing import Server
from test_notify import Inbox, Recorder, _text, smtp  # noqa: F401 - smtp is a fixture
from test_server_attempts import start, wait_done, workflow_id

from dockerflow.archive import pack_project

FAILING = "timezone: Asia/Tokyo\n+ok:\n  echo>: fine\n+broken:\n  sh>: exit 3\n"
KEYS = {"timestamp", "message", "site_id", "project_id", "project_name", "workflow_name", "revision",
        "attempt_id", "session_id", "task_name", "timezone", "session_uuid", "session_time",
        "workflow_definition_id"}


def server_with(tmp_path: Path, settings: dict[str, str]) -> Server:
    config = tmp_path / "server.properties"
    config.write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
    return Server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path, "-c", str(config))


def push(server: Server, tmp_path: Path, text: str, name: str = "demo") -> tuple[str, str]:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "wf.dig").write_text(text)
    r = server.push(name, "r1", pack_project(folder))
    assert r.status_code == 200, r.text
    return r.json()["id"], workflow_id(server, r.json()["id"], "wf")


def tasks(server: Server, attempt_id: str) -> dict[str, dict[str, Any]]:
    return {t["fullName"]: t for t in server.http.get(f"/api/attempts/{attempt_id}/tasks").json()["tasks"]}


def check_alert(body: dict[str, Any], attempt: dict[str, Any], project_id: str, wid: str, message: str,
                task: str) -> None:
    assert set(body) == KEYS
    assert body["message"] == message and body["task_name"] == task
    assert (body["attempt_id"], body["project_id"], body["workflow_definition_id"]) == \
        (int(attempt["id"]), int(project_id), int(wid))
    assert (body["project_name"], body["workflow_name"], body["revision"]) == ("demo", "wf", "r1")
    assert body["session_time"] == attempt["sessionTime"] and body["timezone"] == "Asia/Tokyo"
    assert body["session_uuid"] and body["session_id"] == int(attempt["sessionId"])
    assert body["timestamp"].endswith("Z") and body["site_id"] == 0


@pytest.fixture
def recorder() -> Iterator[tuple[type[Recorder], str]]:
    handler = type("R", (Recorder,), {"requests": [], "statuses": []})
    with serve(handler) as url:
        yield handler, url


def test_a_failed_attempt_posts_one_failure_alert(tmp_path: Path, recorder: tuple[type[Recorder], str]) -> None:
    handler, url = recorder
    server = server_with(tmp_path, {"notification.type": "http", "notification.http.url": url + "/hook",
                                    "notification.http.headers.X-Token": "t0k"})
    try:
        project_id, wid = push(server, tmp_path, FAILING)
        attempt = wait_done(server, start(server, wid).json()["id"])
        assert not attempt["success"]
        by_name = tasks(server, attempt["id"])
        assert by_name["+wf^failure-alert"]["state"] == "success"
        assert by_name["+wf"]["state"] == "group_error"
        assert len(handler.requests) == 1
        request = handler.requests[0]
        assert request["path"] == "/hook" and request["headers"]["X-Token"] == "t0k"
        check_alert(json.loads(request["body"]), attempt, project_id, wid, "Workflow session attempt failed",
                    "+wf^failure-alert")
        ok = push(server, tmp_path, "+ok:\n  echo>: fine\n", name="fine")[1]
        assert wait_done(server, start(server, ok).json()["id"])["success"]
        assert len(handler.requests) == 1  # a success sends nothing
    finally:
        server.stop()


def test_the_shell_notifier_gets_the_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    server = server_with(tmp_path, {"notification.type": "shell",
                                    "notification.shell.command": f"cat >> {out}; echo >> {out}"})
    try:
        project_id, wid = push(server, tmp_path, FAILING)
        attempt = wait_done(server, start(server, wid).json()["id"])
        lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        assert len(lines) == 1
        check_alert(lines[0], attempt, project_id, wid, "Workflow session attempt failed", "+wf^failure-alert")
    finally:
        server.stop()


def test_the_mail_notifier_sends_to_an_smtp_server(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    inbox, port = smtp
    server = server_with(tmp_path, {"notification.type": "mail", "notification.mail.host": "127.0.0.1",
                                    "notification.mail.port": str(port), "notification.mail.tls": "false",
                                    "notification.mail.from": "dockerflow@example.com",
                                    "notification.mail.to": "ops@example.com"})
    try:
        _, wid = push(server, tmp_path, FAILING)
        attempt = wait_done(server, start(server, wid).json()["id"])
        deadline = time.time() + 10
        while not inbox.messages:
            assert time.time() < deadline, "no mail"
            time.sleep(0.1)
        assert len(inbox.messages) == 1
        sender, to, message = inbox.messages[0]
        assert (sender, to) == ("dockerflow@example.com", ["ops@example.com"])
        assert "Workflow session attempt failed" in _text(message)
        assert attempt["id"] in _text(message)
    finally:
        server.stop()


def test_a_broken_sla_alerts_fails_and_runs_its_tasks(tmp_path: Path, recorder: tuple[type[Recorder], str]) -> None:
    handler, url = recorder
    server = server_with(tmp_path, {"notification.type": "http", "notification.http.url": url})
    seen = tmp_path / "sla-task.txt"
    try:
        project_id, wid = push(server, tmp_path, "timezone: Asia/Tokyo\nsla:\n  duration: '00:00:02'\n  fail: true\n"
                                                 f"  +note:\n    sh>: echo late > {seen}\n"
                                                 "+slow:\n  sh>: sleep 5\n")
        attempt = wait_done(server, start(server, wid).json()["id"])
        assert not attempt["success"]
        by_name = tasks(server, attempt["id"])
        assert by_name["+wf^sla^alert"]["state"] == "success"
        assert by_name["+wf^sla^fail"]["state"] == "error"
        assert by_name["+wf^sla+note"]["state"] == "success" and seen.read_text() == "late\n"
        assert by_name["+wf+slow"]["state"] == "success"  # the SLA does not stop what runs
        messages = [json.loads(r["body"])["message"] for r in handler.requests]
        assert sorted(messages) == ["SLA violation", "Workflow session attempt failed"]
        sla = next(json.loads(r["body"]) for r in handler.requests if json.loads(r["body"])["message"] == "SLA violation")
        check_alert(sla, attempt, project_id, wid, "SLA violation", "+wf^sla^alert")
    finally:
        server.stop()


def test_a_bad_notification_config_stops_the_server_naming_the_key(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "server.properties"
    config.write_text("notification.type = http\n")
    done = subprocess.run([sys.executable, "-m", "dockerflow", "server", "--port", "0", "-c", str(config),
                           "--database", f"sqlite:///{tmp_path / 's.db'}"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "notification.http.url" in done.stderr
