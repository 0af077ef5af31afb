"""http> against a real HTTP server on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "dockerflow"]


class Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, str]] = []
    failures: dict[str, int] = {}

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Recorder.requests.append({"method": self.command, "path": self.path, "body": body,
                                  "type": self.headers.get("Content-Type", ""),
                                  "x": self.headers.get("X-Token", "")})
        left = Recorder.failures.get(self.path.split("?")[0], 0)
        if left:
            Recorder.failures[self.path.split("?")[0]] = left - 1
            self._send(503, "try again")
        elif self.path.startswith("/bad"):
            self._send(400, "name is required")
        else:
            self._send(200, json.dumps({"items": ["a", "b"]}))

    def _send(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    Recorder.requests = []
    Recorder.failures = {}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def run(project: Path, text: str) -> subprocess.CompletedProcess[str]:
    (project / "wf.dig").write_text(text)
    return subprocess.run(CLI + ["run", "wf.dig"], cwd=project, capture_output=True, text=True,
                          timeout=120)


def test_get_stores_status_and_content_for_later_tasks(server: str, tmp_path: Path) -> None:
    r = run(tmp_path, f"+get:\n  http>: {server}/items\n  store_content: true\n"
                      f"  query: {{page: 2}}\n  headers:\n    - X-Token: abc\n"
                      "+use:\n  for_each>:\n    item: ${JSON.parse(http.last_content).items}\n"
                      "  _do:\n    sh>: echo ${item} ${http.last_status} >> out.txt\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "a 200\nb 200\n"
    assert Recorder.requests[0]["path"] == "/items?page=2"
    assert Recorder.requests[0]["x"] == "abc"


def test_post_json_and_form_bodies(server: str, tmp_path: Path) -> None:
    r = run(tmp_path, f"+json:\n  http>: {server}/hook\n  method: POST\n"
                      "  content: {msg: done, n: [1, 2]}\n"
                      f"+form:\n  http>: {server}/form\n  method: POST\n  content_format: form\n"
                      "  content: {a: foo, 'b&c': 'x=y'}\n"
                      f"+text:\n  http>: {server}/text\n  method: PUT\n  content: hello\n")
    assert r.returncode == 0, r.stdout + r.stderr
    json_req, form_req, text_req = Recorder.requests
    assert json.loads(json_req["body"]) == {"msg": "done", "n": [1, 2]}
    assert json_req["type"] == "application/json"
    assert form_req["body"] == "a=foo&b%26c=x%3Dy"
    assert text_req["type"] == "plain/text" and text_req["body"] == "hello"


def test_safe_methods_retry_server_errors_unsafe_do_not(server: str, tmp_path: Path) -> None:
    Recorder.failures = {"/flaky": 2, "/once": 1}
    r = run(tmp_path, f"+get:\n  http>: {server}/flaky\n"
                      f"+post:\n  http>: {server}/once\n  method: POST\n")
    assert r.returncode == 1
    assert [q["path"] for q in Recorder.requests] == ["/flaky"] * 3 + ["/once"]
    assert "answered 503" in r.stderr


def test_client_error_fails_quoting_the_body(server: str, tmp_path: Path) -> None:
    r = run(tmp_path, f"+bad:\n  http>: {server}/bad\n")
    assert r.returncode == 1
    assert "failed with status 400: name is required" in r.stderr
    assert len(Recorder.requests) == 1
