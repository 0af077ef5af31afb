"""schemathesis fuzzes every operation of /api/openapi.json against a real server (with a
project, an attempt and its logs in it): no 5xx, every response as documented."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from server_testing import Server

from dockerflow.archive import pack_project

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"


def test_no_5xx_and_no_schema_violation(tmp_path: Path) -> None:
    server = Server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    try:
        project = tmp_path / "project"
        project.mkdir()
        (project / "wf.dig").write_text("schedule:\n  daily>: 07:00:00\n+a:\n  sh>: echo hello\n")
        pushed = server.push("demo", "r1", pack_project(project)).json()
        wid = server.http.get(f"/api/projects/{pushed['id']}/workflows/wf").json()["id"]
        attempt = server.http.put("/api/attempts", json={"workflowId": wid, "params": {},
                                                         "sessionTime": "2024-05-01T00:00:00Z"}).json()
        deadline = time.time() + 60
        while not server.http.get(f"/api/attempts/{attempt['id']}").json()["done"]:
            assert time.time() < deadline
            time.sleep(0.2)
        r = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/openapi.json",
                            "-c", CHECKS, "-n", "30", "--phases", "examples,fuzzing", "--seed", "1"],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
        assert "passed" in r.stdout
    finally:
        server.stop()
