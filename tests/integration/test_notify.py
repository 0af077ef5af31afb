"""The server's notifiers (dockerflow.notify) against real receivers on loopback: an SMTP server
(aiosmtpd), an HTTP server, and shell commands. Retry waits go through an injected sleep."""

from __future__ import annotations

import email
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from http_testing import serve

from dockerflow.errors import UserInputError
from dockerflow.notify import Notification, NotificationError, ShellSender, notifier_from_config

SAMPLE = Notification(
    timestamp=datetime(2024, 3, 5, 1, 2, 3, 456789, tzinfo=timezone.utc),
    message="Workflow session attempt failed", site_id=0, project_id=12, project_name="proj",
    workflow_name="nightly", revision="rev-1", attempt_id=34, session_id=56, task_name="+nightly+load",
    time_zone="Asia/Tokyo", session_uuid="9b7e7cf4-2b4e-4a0c-9f5e-6d8b1f0c2a3e",
    session_time=datetime(2024, 3, 5, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")), workflow_definition_id=78)

SAMPLE_JSON = {
    "timestamp": "2024-03-05T01:02:03Z", "message": "Workflow session attempt failed", "site_id": 0,
    "project_id": 12, "project_name": "proj", "workflow_name": "nightly", "revision": "rev-1",
    "attempt_id": 34, "session_id": 56, "task_name": "+nightly+load", "timezone": "Asia/Tokyo",
    "session_uuid": "9b7e7cf4-2b4e-4a0c-9f5e-6d8b1f0c2a3e", "session_time": "2024-03-05T09:00:00+09:00",
    "workflow_definition_id": 78,
}


class Sleeps(list[float]):
    """An injected sleep: records the waits, waits for nothing."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_json_is_digdags() -> None:
    assert SAMPLE.to_json() == SAMPLE_JSON
    assert list(SAMPLE.to_json()) == list(SAMPLE_JSON)  # Digdag's key order
    bare = Notification(datetime(2024, 1, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")), "SLA violation").to_json()
    assert bare["timestamp"] == "2024-01-01T00:00:00Z" and bare["message"] == "SLA violation"
    assert set(bare) == set(SAMPLE_JSON) and all(bare[k] is None for k in bare if k not in ("timestamp", "message"))
    with pytest.raises(ValueError, match="timezone-aware"):
        Notification(datetime(2024, 1, 1), "naive")


# --- mail -------------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"

    def authenticate(self, server: object, session: object, envelope: object, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)  # aiosmtpd answers 535


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                            auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


def _mail_config(port: int, **extra: str) -> dict[str, str]:
    return {"notification.type": "mail", "notification.mail.host": "127.0.0.1",
            "notification.mail.port": str(port), "notification.mail.tls": "false",
            "notification.mail.from": "digdag@example.com",
            "notification.mail.to": "ops@example.com, oncall@example.com", **extra}


def _text(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(msg.get_content_charset() or "utf-8").replace("\r\n", "\n")


def test_mail_default_subject_and_body(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    notifier = notifier_from_config(_mail_config(port, **{
        "notification.mail.cc": "lead@example.com", "notification.mail.bcc": "audit@example.com",
        "notification.mail.username": "flow", "notification.mail.password": "s3cret"}))
    assert notifier is not None
    notifier.send(SAMPLE)
    ((sender, rcpts, msg),) = inbox.messages
    assert inbox.logins == [(b"flow", b"s3cret")]
    assert sender == "digdag@example.com"
    assert rcpts == ["ops@example.com", "oncall@example.com", "lead@example.com", "audit@example.com"]
    assert msg["From"] == "digdag@example.com" and msg["To"] == "ops@example.com, oncall@example.com"
    assert msg["Cc"] == "lead@example.com" and "Bcc" not in msg
    assert msg["Subject"] == "Digdag Notification"
    assert msg.get_content_type() == "text/plain"
    body = _text(msg)
    assert body.startswith("Digdag Notification\n\nMessage: Workflow session attempt failed\n"
                           "Date: 2024-03-05T01:02:03Z\n\nSite Id: 0\nProject Name: proj\nProject Id: 12\n")
    for line in ("Workflow Name: nightly", "Revision: rev-1", "Attempt Id: 34", "Session Id: 56",
                 "Task Name: +nightly+load", "Time Zone: Asia/Tokyo",
                 "Session Uuid: 9b7e7cf4-2b4e-4a0c-9f5e-6d8b1f0c2a3e", "Session Time: 2024-03-05T09:00:00+09:00"):
        assert line in body


def test_mail_template_file_subject_and_html(smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp
    template = tmp_path / "body.html"
    template.write_text("<p>{{ projectName }}/{{workflowName}} failed: ${message}</p>"
                        "<p>attempt {{attempt_id}} at ${timeZone}, task {{taskName}}{{revision}}</p>")
    notifier = notifier_from_config(_mail_config(port, **{
        "notification.mail.subject": "dockerflow alert", "notification.mail.html": "true",
        "notification.mail.body_template_file": str(template)}))
    assert notifier is not None
    notifier.send(Notification(SAMPLE.timestamp, "a <b> & c", project_name="proj", workflow_name="nightly",
                               attempt_id=34, time_zone="UTC"))
    ((_, rcpts, msg),) = inbox.messages
    assert rcpts == ["ops@example.com", "oncall@example.com"]
    assert msg["Subject"] == "dockerflow alert" and msg.get_content_type() == "text/html"
    assert _text(msg).strip() == ("<p>proj/nightly failed: a &lt;b&gt; &amp; c</p>"
                                  "<p>attempt 34 at UTC, task </p>")


def test_mail_refusals_are_retried_then_fail(smtp: tuple[Inbox, int], caplog: pytest.LogCaptureFixture) -> None:
    inbox, port = smtp
    sleeps = Sleeps()
    # tls = true (the default) and a server without STARTTLS; then a wrong password
    for extra, reason in (({"notification.mail.tls": "true"}, "STARTTLS"),
                          ({"notification.mail.username": "flow", "notification.mail.password": "nope"},
                           "SMTPAuthenticationError")):
        config = {**_mail_config(port), "notification.retries": "1", **extra}
        notifier = notifier_from_config(config, sleep=sleeps)
        assert notifier is not None
        with caplog.at_level(logging.WARNING, logger="dockerflow.notify"):
            with pytest.raises(NotificationError, match=f"by mail failed after 2 tries: .*{reason}"):
                notifier.send(SAMPLE)
    assert inbox.messages == [] and sleeps == [1.0, 1.0]
    lines = [r.getMessage() for r in caplog.records if r.name == "dockerflow.notify"]
    assert len(lines) == 4 and all("notification by mail failed" in line for line in lines)
    assert "STARTTLS" in lines[0] and "retrying in 1 s" in lines[0] and "giving up" in lines[1]


# --- http -------------------------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Records each request; answers with the next status of `statuses` (then 200)."""

    requests: list[dict[str, Any]] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                  "body": body})
            status = self.statuses.pop(0) if self.statuses else 200
        reply = b"server on fire" if status >= 400 else b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = do_PUT = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def recorder() -> Iterator[tuple[type[Recorder], str]]:
    handler = type("R", (Recorder,), {"requests": [], "statuses": []})
    with serve(handler) as url:
        yield handler, url


def test_http_posts_the_json_with_headers(recorder: tuple[type[Recorder], str]) -> None:
    handler, url = recorder
    notifier = notifier_from_config({"notification.type": "http", "notification.http.url": f"{url}/hook?k=1",
                                     "notification.http.headers.Authorization": "Bearer tok",
                                     "notification.http.headers.X-Team": "data"})
    assert notifier is not None
    notifier.send(SAMPLE)
    (req,) = handler.requests
    assert req["method"] == "POST" and req["path"] == "/hook?k=1"
    assert req["headers"]["Content-Type"] == "application/json"
    assert req["headers"]["Authorization"] == "Bearer tok" and req["headers"]["X-Team"] == "data"
    assert json.loads(req["body"]) == SAMPLE_JSON


def test_http_method_and_retry_until_success(recorder: tuple[type[Recorder], str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    handler, url = recorder
    handler.statuses.extend([500, 503])
    sleeps = Sleeps()
    notifier = notifier_from_config({"notification.type": "http", "notification.http.url": url,
                                     "notification.http.method": "put"}, sleep=sleeps)
    assert notifier is not None
    with caplog.at_level(logging.WARNING, logger="dockerflow.notify"):
        notifier.send(SAMPLE)
    assert [r["method"] for r in handler.requests] == ["PUT"] * 3
    assert all(json.loads(r["body"]) == SAMPLE_JSON for r in handler.requests)
    assert sleeps == [1.0, 3.0]  # Digdag's back-off: 1 s, then times 3
    lines = [r.getMessage() for r in caplog.records if r.name == "dockerflow.notify"]
    assert len(lines) == 2
    assert "notification by http failed (try 1 of 11)" in lines[0] and "answered 500" in lines[0]
    assert "server on fire" in lines[0] and "retrying in 1 s" in lines[0]
    assert "(try 2 of 11)" in lines[1] and "answered 503" in lines[1]


def test_http_retries_exhausted(recorder: tuple[type[Recorder], str]) -> None:
    handler, url = recorder
    handler.statuses.extend([500] * 10)
    sleeps = Sleeps()
    notifier = notifier_from_config({"notification.type": "http", "notification.http.url": url,
                                     "notification.retries": "4"}, sleep=sleeps)
    assert notifier is not None
    with pytest.raises(NotificationError, match="by http failed after 5 tries: POST .* answered 500") as e:
        notifier.send(SAMPLE)
    assert isinstance(e.value.__cause__, NotificationError)
    assert len(handler.requests) == 5 and sleeps == [1.0, 3.0, 9.0, 27.0]


def test_http_backoff_is_capped_and_connection_errors_retried() -> None:
    sleeps = Sleeps()
    notifier = notifier_from_config({"notification.type": "http",
                                     "notification.http.url": f"http://127.0.0.1:{_free_port()}/x"}, sleep=sleeps)
    assert notifier is not None
    with pytest.raises(NotificationError, match="after 11 tries: POST http://127.0.0.1:.*ConnectError"):
        notifier.send(SAMPLE)
    assert sleeps == [1.0, 3.0, 9.0, 27.0] + [30.0] * 6


# --- shell ------------------------------------------------------------------------------------


def test_shell_gets_the_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "notification.json"
    notifier = notifier_from_config({"notification.type": "shell", "notification.shell.command": f"cat > '{out}'"})
    assert notifier is not None
    notifier.send(SAMPLE)
    assert json.loads(out.read_text()) == SAMPLE_JSON


def test_shell_non_zero_exit_is_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    count, out = tmp_path / "count", tmp_path / "out.json"
    command = (f"n=$(cat '{count}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{count}'; "
               f"if [ $n -lt 3 ]; then echo \"try $n: not yet\" >&2; exit 4; fi; cat > '{out}'")
    sleeps = Sleeps()
    notifier = notifier_from_config({"notification.type": "shell", "notification.shell.command": command,
                                     "notification.min_retry_wait": "500"}, sleep=sleeps)
    assert notifier is not None
    with caplog.at_level(logging.WARNING, logger="dockerflow.notify"):
        notifier.send(SAMPLE)
    assert count.read_text().strip() == "3" and json.loads(out.read_text()) == SAMPLE_JSON
    assert sleeps == [0.5, 1.5]
    lines = [r.getMessage() for r in caplog.records if r.name == "dockerflow.notify"]
    assert len(lines) == 2 and "notification by shell failed (try 1 of 11)" in lines[0]
    assert "exited with 4" in lines[0] and "try 1: not yet" in lines[0] and "try 2: not yet" in lines[1]


def test_shell_failing_for_good() -> None:
    sleeps = Sleeps()
    notifier = notifier_from_config({"notification.type": "shell", "notification.shell.command": "exit 3",
                                     "notification.retries": "2"}, sleep=sleeps)
    assert notifier is not None
    with pytest.raises(NotificationError, match="by shell failed after 3 tries: the command exited with 3: exit 3"):
        notifier.send(SAMPLE)
    assert len(sleeps) == 2


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except FileNotFoundError:
        return True


def test_shell_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "bg.pid"
    sleeps = Sleeps()
    notifier = notifier_from_config({"notification.type": "shell", "notification.retries": "0",
                                     "notification.shell.timeout": "300",
                                     "notification.shell.command": f"sleep 30 & echo $! > '{pid_file}'; wait"},
                                    sleep=sleeps)
    assert notifier is not None
    started = time.monotonic()
    with pytest.raises(NotificationError, match=r"after 1 try: the command did not finish in 0\.3 s and was killed"):
        notifier.send(SAMPLE)
    assert time.monotonic() - started < 5 and sleeps == []
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = not _gone(pid)
    if survived:
        os.kill(pid, 9)
    assert not survived, "the command's background child survived the timeout"


def test_shell_sender_timeout_parameter() -> None:
    started = time.monotonic()
    with pytest.raises(NotificationError, match="did not finish in 0.2 s"):
        ShellSender("sleep 20", timeout=0.2).send_once(SAMPLE)
    assert time.monotonic() - started < 5


# --- configuration ----------------------------------------------------------------------------


def test_no_type_no_notifier() -> None:
    assert notifier_from_config({}) is None
    assert notifier_from_config({"notification.http.url": "http://x"}) is None


@pytest.mark.parametrize("config, message", [
    ({"notification.type": "slack"}, "notification.type 'slack' is not a notifier: use one of mail, http, shell"),
    ({"notification.type": ""}, "notification.type '' is not a notifier"),
    ({"notification.type": "http"}, "notification.http.url is not set: notification.type = http needs it"),
    ({"notification.type": "http", "notification.http.url": "ftp://x"}, "notification.http.url must be an http"),
    ({"notification.type": "http", "notification.http.url": "http://x", "notification.http.headers.Bad Name": "v"},
     "notification.http.headers.Bad Name"),
    ({"notification.type": "shell", "notification.shell.command": " "}, "notification.shell.command is not set"),
    ({"notification.type": "shell"}, "notification.shell.command is not set"),
    ({"notification.type": "shell", "notification.shell.command": "true", "notification.shell.timeout": "30s"},
     "notification.shell.timeout must be a whole number >= 1, not '30s'"),
    ({"notification.type": "mail"}, "notification.mail.host is not set: notification.type = mail needs it"),
    ({"notification.type": "mail", "notification.mail.host": "h"}, "notification.mail.from is not set"),
    ({"notification.type": "mail", "notification.mail.host": "h", "notification.mail.from": "a@x"},
     "notification.mail.to is not set"),
    ({"notification.type": "mail", "notification.mail.host": "h", "notification.mail.from": "a@x",
      "notification.mail.to": " , "}, "notification.mail.to has no address"),
    ({"notification.type": "mail", "notification.mail.host": "h", "notification.mail.from": "a@x",
      "notification.mail.to": "b@x", "notification.mail.tls": "yes"}, "notification.mail.tls must be true or false"),
    ({"notification.type": "mail", "notification.mail.host": "h", "notification.mail.from": "a@x",
      "notification.mail.to": "b@x", "notification.mail.body_template_file": "/nonexistent/body.txt"},
     "notification.mail.body_template_file /nonexistent/body.txt: cannot read"),
    ({"notification.type": "mail", "notification.mail.host": "h", "notification.mail.from": "a@x",
      "notification.mail.to": "b@x", "notification.mail.subject": "two\nlines"},
     "notification.mail: cannot build a message: Header values may not contain linefeed"),
    ({"notification.type": "shell", "notification.shell.command": "true", "notification.retries": "-1"},
     "notification.retries must be a whole number >= 0, not '-1'"),
])
def test_config_errors_name_the_key(config: dict[str, str], message: str) -> None:
    with pytest.raises(UserInputError) as e:
        notifier_from_config(config)
    assert message in str(e.value)


def test_bad_template_placeholder_refused_at_start(tmp_path: Path) -> None:
    template = tmp_path / "body.txt"
    template.write_text("ok: {{message}}\nbad: ${message.toUpperCase()}\n")
    with pytest.raises(UserInputError, match=r"body\.txt:2: unknown name '\$\{message\.toUpperCase\(\)\}'"):
        notifier_from_config({"notification.type": "mail", "notification.mail.host": "h",
                              "notification.mail.from": "a@x", "notification.mail.to": "b@x",
                              "notification.mail.body_template_file": str(template)})


def test_unknown_keys_of_the_type_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dockerflow.notify"):
        assert notifier_from_config({"notification.type": "shell", "notification.shell.command": "true",
                                     "notification.shell.comand": "typo", "notification.http.url": "x"})
    assert [r.getMessage() for r in caplog.records] == ["ignoring unknown notification keys: notification.shell.comand"]
