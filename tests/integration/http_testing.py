"""Helpers of the http>/http_call> tests: a recording HTTP server on loopback, and the CLI
run with HOME in the test's folder (so local secrets are the test's own)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CLI = [sys.executable, "-m", "dockerflow"]


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A threaded server on 127.0.0.1 with `handler`; yields its base URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(project / "home")
    return subprocess.run(CLI + list(args), cwd=project, capture_output=True, text=True,
                          timeout=120, env=env)


def run(project: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    (project / "wf.dig").write_text(text)
    return cli(project, "run", "wf.dig", *args)


def set_secrets(project: Path, *pairs: str) -> None:
    r = cli(project, "secrets", "--local", *[a for p in pairs for a in ("--set", p)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert (project / "home" / ".config" / "dockerflow" / "secrets.json").is_file()
