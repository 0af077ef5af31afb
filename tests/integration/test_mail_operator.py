"""mail> against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import socket
import subprocess
import sys
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

CLI = [sys.executable, "-m", "dockerflow"]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append((list(envelope.rcpt_tos),  # type: ignore[attr-defined]
                              email.message_from_bytes(envelope.content)))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture()
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as s:  # a free port (the controller checks it by connecting)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_error_handler_mails_a_rendered_body_with_attachment(smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp
    (tmp_path / "body.txt").write_text("Task ${error.task_name} failed: ${error.message}\n")
    (tmp_path / "report.csv").write_text("a,b\n1,2\n")
    (tmp_path / "wf.dig").write_text(
        f"_export:\n  mail:\n    host: 127.0.0.1\n    port: {port}\n    tls: false\n"
        "    from: flow@example.com\n"
        "+work:\n  fail>: disk full\n"
        "_error:\n  mail>: body.txt\n  subject: failed on ${session_date}\n"
        "  to: [ops@example.com]\n  bcc: audit@example.com\n"
        "  attach_files:\n    - path: report.csv\n")
    r = subprocess.run(CLI + ["run", "wf.dig", "--session", "2024-03-05"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "failed on 2024-03-05" in r.stdout
    ((rcpts, msg),) = inbox.messages
    assert rcpts == ["ops@example.com", "audit@example.com"]
    assert msg["Subject"] == "failed on 2024-03-05" and msg["To"] == "ops@example.com"
    assert "Bcc" not in msg
    parts = list(msg.walk())
    assert "Task +wf+work failed: disk full" in parts[1].get_payload(decode=True).decode()
    assert parts[2].get_filename() == "report.csv"


def test_inline_data_and_clear_error_without_server(tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text("+m:\n  mail>: {data: hi}\n  subject: s\n  to: a@example.com\n"
                                     "  from: b@example.com\n")
    r = subprocess.run(CLI + ["run", "wf.dig"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "mail> needs an SMTP server" in r.stderr
