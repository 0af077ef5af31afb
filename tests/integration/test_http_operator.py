"""http> against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from http_testing import run, serve, set_secrets


class Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, str]] = []
    failures: dict[str, int] = {}

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Recorder.requests.append({"method": self.command, "path": self.path, "body": body,
                                  "type": self.headers.get("Content-Type", ""),
                                  "x": self.headers.get("X-Token", ""),
                                  "auth": self.headers.get("Authorization", ""),
                                  "headers": {k.lower(): v for k, v in self.headers.items()}})
        left = Recorder.failures.get(self.path.split("?")[0], 0)
        if left:
            Recorder.failures[self.path.split("?")[0]] = left - 1
            self._send(503, "try again")
        elif self.path.startswith("/bad"):
            self._send(400, "name is required")
        elif self.path.startswith("/long"):
            self._send(400, "x" * 300 + "END")
        else:
            self._send(200, json.dumps({"items": ["a", "b"]}))

    def _send(self, code: int, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    Recorder.requests = []
    Recorder.failures = {}
    with serve(Recorder) as url:
        yield url


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


def test_options_from_p_params(server: str, tmp_path: Path) -> None:
    Recorder.failures = {"/p": 1}  # retried: -p http.retry=true (a string) counts
    r = run(tmp_path, f"+post:\n  http>: {server}/p\n+show:\n  echo>: got ${{http.last_content}}\n",
            "-p", "http.method=POST", "-p", "http.content=hello", "-p",
            "http.content_type=text/x-note", "-p", 'http.headers=[{"X-Token": "abc"}]',
            "-p", 'http.query={"page": 2, "q": "a b"}', "-p", "http.store_content=true",
            "-p", "http.timeout=5", "-p", "http.insecure=false", "-p", "http.retry=true")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(Recorder.requests) == 2
    req = Recorder.requests[1]
    assert (req["method"], req["path"], req["body"], req["type"], req["x"]) == (
        "POST", "/p?page=2&q=a+b", "hello", "text/x-note", "abc")
    assert 'got {"items": ["a", "b"]}' in r.stdout


def test_retry_false_from_p_params_is_not_retried(server: str, tmp_path: Path) -> None:
    Recorder.failures = {"/g": 1}
    r = run(tmp_path, f"+get:\n  http>: {server}/g\n", "-p", "http.retry=false")
    assert r.returncode == 1
    assert len(Recorder.requests) == 1 and "answered 503" in r.stderr


def test_options_from_exported_http_map_task_keys_win(server: str, tmp_path: Path) -> None:
    r = run(tmp_path, "_export:\n  http:\n    method: PUT\n    content: {a: 1, b: x, c: true}\n"
                      "    content_format: form\n    headers:\n      - X-Token: exported\n"
                      "    query: {page: 3}\n    store_content: true\n    timeout: 5\n"
                      f"+put:\n  http>: {server}/e\n"
                      "+show:\n  echo>: stored ${http.last_content.length} characters\n"
                      f"+own:\n  http>: {server}/own\n  method: DELETE\n  query: k=v\n"
                      "  headers:\n    - X-Token: own\n", "-p", "http.method=POST")
    assert r.returncode == 0, r.stdout + r.stderr
    put, own = Recorder.requests
    assert (put["method"], put["path"], put["body"], put["x"]) == ("PUT", "/e?page=3",
                                                                  "a=1&b=x&c=true", "exported")
    assert put["type"] == "application/x-www-form-urlencoded"
    assert "stored 21 characters" in r.stdout  # {"items": ["a", "b"]}
    assert (own["method"], own["path"], own["x"]) == ("DELETE", "/own?k=v", "own")


def test_options_from_a_params_file_json_text(server: str, tmp_path: Path) -> None:
    (tmp_path / "params.yml").write_text(
        "http:\n  method: POST\n  content: {msg: hi}\n"
        "  headers: '[{\"X-Token\": \"from-file\"}]'\n"
        "  query: '{\"k\": \"v w\", \"n\": 1}'\n  insecure: 'false'\n")
    r = run(tmp_path, f"+post:\n  http>: {server}/f\n+put:\n  http>: {server}/f2\n"
                      "  method: PUT\n", "-P", "params.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    post, put = Recorder.requests
    assert (post["method"], post["path"], post["x"]) == ("POST", "/f?k=v+w&n=1", "from-file")
    assert json.loads(post["body"]) == {"msg": "hi"} and post["type"] == "application/json"
    assert (put["method"], put["path"]) == ("PUT", "/f2?k=v+w&n=1")


def test_auth_from_secrets(server: str, tmp_path: Path) -> None:
    set_secrets(tmp_path, "http.user=alice", "http.password=pw-s3cret",
                "api.authorization=Bearer tok-s3cret", "api.user=ignored")
    r = run(tmp_path, f"+basic:\n  http>: {server}/basic\n"
                      f"+bearer:\n  _secrets:\n    http: api\n  http>: {server}/bearer\n"
                      f"+own_header:\n  http>: {server}/own\n"
                      "  headers:\n    - Authorization: Token mine\n")
    assert r.returncode == 0, r.stdout + r.stderr
    basic, bearer, own = (q["auth"] for q in Recorder.requests)
    assert basic == "Basic " + base64.b64encode(b"alice:pw-s3cret").decode()
    assert bearer == "Bearer tok-s3cret"
    assert own == "Token mine"
    assert "s3cret" not in r.stdout + r.stderr


def test_secrets_in_keys_and_values_of_headers_query_and_content(server: str,
                                                                 tmp_path: Path) -> None:
    set_secrets(tmp_path, "hname=X-Hidden-Name", "hval=hv-s3cret", "qkey=qk-s3cret",
                "qval=qv-s3cret", "ckey=ck-s3cret")
    r = run(tmp_path, f"+s:\n  http>: {server}/s\n  method: POST\n"
                      "  headers:\n    - ${secret:hname}: ${secret:hval}\n"
                      "  query:\n    ${secret:qkey}: ${secret:qval}\n"
                      "  content:\n    ${secret:ckey}:\n      inner: ${secret:hval}\n")
    assert r.returncode == 0, r.stdout + r.stderr
    req = Recorder.requests[0]
    assert req["headers"]["x-hidden-name"] == "hv-s3cret"
    assert req["path"] == "/s?qk-s3cret=qv-s3cret"
    assert json.loads(req["body"]) == {"ck-s3cret": {"inner": "hv-s3cret"}}
    assert "POST" in r.stdout and "s3cret" not in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


def test_secrets_are_masked_in_failure_messages(server: str, tmp_path: Path) -> None:
    set_secrets(tmp_path, "qval=qv-s3cret", "bad=Bad Name")
    r = run(tmp_path, f"+bad:\n  http>: {server}/bad\n  query: {{k: '${{secret:qval}}'}}\n")
    assert r.returncode == 1
    assert "failed with status 400: name is required" in r.stderr
    assert "k=***" in r.stderr and "s3cret" not in r.stdout + r.stderr
    r = run(tmp_path, f"+bad:\n  http>: {server}/x\n  headers:\n    - ${{secret:bad}}: v\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "http>: invalid header name '***'" in r.stderr and "Traceback" not in r.stderr
    assert Recorder.requests[1:] == []


def test_uri_from_secret(server: str, tmp_path: Path) -> None:
    set_secrets(tmp_path, f"http.uri={server}/hidden?key=uri-s3cret")
    r = run(tmp_path, "+get:\n  http>:\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert Recorder.requests[0]["path"] == "/hidden?key=uri-s3cret"
    assert "GET *** -> 200" in r.stdout and "s3cret" not in r.stdout + r.stderr


def test_long_error_body_is_cut_as_digdag_does(server: str, tmp_path: Path) -> None:
    r = run(tmp_path, f"+long:\n  http>: {server}/long\n")
    assert r.returncode == 1
    assert "failed with status 400: " + "x" * 197 + "...\n" in r.stderr
    assert "x" * 198 not in r.stderr and "END" not in r.stderr
