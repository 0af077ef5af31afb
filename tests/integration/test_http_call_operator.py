"""http_call> against a real HTTP server on loopback that serves workflow definitions."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from http_testing import cli, run, serve

from dockerflow.sdk import HttpCall, Sh, Workflow, read_dig, to_dig

YAML_WF = """\
_export:
  greeting: hi
  at: 10:30:00
+a:
  sh>: echo "${greeting} a ${at}" >> out.txt
+b:
  echo>: "b says ${greeting}"
"""


class Served(BaseHTTPRequestHandler):
    """Serves `routes[path] = (content_type, body)` and records every request."""

    routes: dict[str, tuple[str | None, str]] = {}
    requests: list[dict[str, str]] = []

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Served.requests.append({"method": self.command, "path": self.path, "body": body,
                                "auth": self.headers.get("Authorization", ""),
                                "x": self.headers.get("X-Token", "")})
        route = Served.routes.get(self.path.split("?")[0])
        if route is None:
            self._send(404, None, "no such workflow")
            return
        self._send(200, *route)

    def _send(self, code: int, ctype: str | None, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    Served.routes = {}
    Served.requests = []
    with serve(Served) as url:
        yield url


def test_yaml_workflow_runs_as_children_in_digdags_dialect(server: str, tmp_path: Path) -> None:
    Served.routes["/wf"] = ("application/x-yaml", YAML_WF)
    r = run(tmp_path, f"+fetch:\n  http_call>: {server}/wf\n  query: {{day: '${{session_date}}'}}\n"
                      "+after:\n  sh>: echo after >> out.txt\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "hi a 10:30:00\nafter\n"  # not 37800
    assert "[+wf+fetch^sub+b] b says hi" in r.stdout
    assert Served.requests[0]["path"].startswith("/wf?day=")


def test_json_workflow_with_http_options_and_auth_secret(server: str, tmp_path: Path) -> None:
    Served.routes["/wf.json"] = ("application/json; charset=utf-8", json.dumps(
        {"+j": {"sh>": "echo json ${n} >> out.txt"}, "_export": {"n": 1}}))
    r = cli(tmp_path, "secrets", "--local", "--set", "http.authorization=Bearer tok-s3cret")
    assert r.returncode == 0, r.stderr
    r = run(tmp_path, "_export:\n  http:\n    method: POST\n    content: {want: json}\n"
                      "    headers:\n      - X-Token: abc\n"
                      f"+fetch:\n  http_call>: {server}/wf.json\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "json 1\n"
    req = Served.requests[0]
    assert (req["method"], req["auth"], req["x"]) == ("POST", "Bearer tok-s3cret", "abc")
    assert json.loads(req["body"]) == {"want": "json"}
    assert "s3cret" not in r.stdout + r.stderr


def test_content_type_override(server: str, tmp_path: Path) -> None:
    Served.routes["/plain"] = ("text/plain", YAML_WF)
    r = run(tmp_path, f"+fetch:\n  http_call>: {server}/plain\n")
    assert r.returncode == 1
    assert f"unsupported Content-Type 'text/plain' from {server}/plain" in r.stderr
    assert "content_type_override" in r.stderr
    r = run(tmp_path, f"+fetch:\n  http_call>: {server}/plain\n"
                      "  content_type_override: application/x-yaml\n", "--rerun")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "hi a 10:30:00\n"


def test_no_content_type_needs_an_override(server: str, tmp_path: Path) -> None:
    Served.routes["/none"] = (None, json.dumps({"+e": {"echo>": "from json"}}))
    r = run(tmp_path, f"+fetch:\n  http_call>: {server}/none\n")
    assert r.returncode == 1 and "answered without a Content-Type" in r.stderr
    r = run(tmp_path, f"+fetch:\n  http_call>: {server}/none\n"
                      "  content_type_override: application/json\n", "--rerun")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "from json" in r.stdout


@pytest.mark.parametrize("ctype, body, problem", [
    ("application/x-yaml", "+a:\n  echo>: [unclosed\n", "/wf:3: invalid YAML"),  # where the parser gave up
    ("application/x-yaml", "- +a\n- +b\n", "/wf:1: the top level of a .dig file must be a mapping"),
    ("application/json", '{"+a": ', "/wf: the response is not valid JSON"),
    ("application/json", "[1, 2]", "/wf: a workflow must be a JSON object, but the response"
                                    " holds a list"),
    ("application/x-yaml", "+a:\n  nope>: x\n", "/wf:2: Unknown operator 'nope>' in task +a"),
    ("application/json", '{"+a": {"sh>": "x", "echo>": "y"}}',
     "/wf: A task can't have more than one operator: +a has 'sh>' and 'echo>'"),
    ("application/x-yaml", "", "/wf: the response is empty"),
], ids=["yaml-syntax", "yaml-list", "json-syntax", "json-list", "unknown-operator",
        "two-operators", "empty"])
def test_bad_workflow_fails_naming_the_url(server: str, tmp_path: Path, ctype: str, body: str,
                                           problem: str) -> None:
    Served.routes["/wf"] = (ctype, body)
    r = run(tmp_path, f"+fetch:\n  http_call>: {server}/wf\n+never:\n  echo>: not reached\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"http_call>: {server}{problem}" in r.stderr, r.stderr
    assert "Traceback" not in r.stdout + r.stderr and "not reached" not in r.stdout


def test_unreachable_url_and_missing_workflow(server: str, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    r = run(tmp_path, f"+fetch:\n  http_call>: http://127.0.0.1:{port}/wf\n  retry: false\n")
    assert r.returncode == 1
    assert f"http_call>: GET http://127.0.0.1:{port}/wf failed:" in r.stderr
    assert "Connection refused" in r.stderr
    r = run(tmp_path, f"+fetch:\n  http_call>: {server}/missing\n", "--rerun")
    assert r.returncode == 1
    assert f"http_call>: GET {server}/missing failed with status 404: no such workflow" \
        in r.stderr


def test_sdk_round_trip_and_run(server: str, tmp_path: Path) -> None:
    Served.routes["/wf"] = ("application/x-yaml", YAML_WF)
    task = HttpCall(name="fetch", uri=f"{server}/wf", content_type_override="application/x-yaml",
                    method="GET", headers=[{"X-Token": "sdk"}], query={"a": "1"}, timeout=30,
                    insecure=False, options={"retry": True})
    wf = Workflow(name="wf", tasks=[task, Sh(name="after", command="echo after >> out.txt")])
    text = to_dig(wf)
    assert "http_call>: " in text and "content_type_override: application/x-yaml" in text
    (tmp_path / "wf.dig").write_text(text)
    assert read_dig(tmp_path / "wf.dig") == wf
    r = cli(tmp_path, "run", "wf.dig")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "hi a 10:30:00\nafter\n"
    assert (Served.requests[0]["path"], Served.requests[0]["x"]) == ("/wf?a=1", "sdk")
