"""A real `dockerflow server` process on loopback for the server tests (the `server` fixture of
conftest.py runs one over SQLite and one over a real PostgreSQL), with helpers for pushes and
error bodies."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rest_contract import check

CLI = [sys.executable, "-m", "dockerflow"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, database: str, folder: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        self.proc = subprocess.Popen(CLI + ["server", "--port", str(self.port), "--database", database,
                                            *extra],
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT,
                                     env=dict(os.environ, HOME=str(folder)))
        deadline = time.time() + 30
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                httpx.get(self.url + "/api/version", timeout=1)
                break
            except httpx.HTTPError:
                assert time.time() < deadline, self.log.read_text()
                time.sleep(0.1)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(30)

    def push(self, project: str, revision: str, data: bytes, **headers: str) -> httpx.Response:
        return self.http.put("/api/projects", params={"project": project, "revision": revision},
                             content=data, headers={"Content-Type": "application/gzip", **headers})


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    check("RestError", body)
    assert body["status"] == status
    return str(body["message"])


