"""Project secrets through a real `dockerflow server` (SQLite and PostgreSQL): set, list and
delete through the API and the CLI, stored encrypted, read by that project's tasks only and
masked in their logs."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from rest_contract import check
from server_testing import Server, error_of
from test_server_attempts import push, start, wait_done, workflow_id

from dockerflow.archive import pack_project

SECRET = "s3cr3t-v@lue-42"


def put(server: Server, project_id: str, key: str, value: str) -> dict:
    r = server.http.put(f"/api/projects/{project_id}/secrets/{key}", json={"value": value})
    assert r.status_code == 200, r.text
    check("RestSecret", r.json())
    return dict(r.json())


def test_secrets_are_set_listed_and_deleted_never_returned(server: Server, tmp_path: Path) -> None:
    project = push(server, tmp_path, {"wf.dig": "+a:\n  echo>: hi\n"})
    pid = project["id"]
    listed = server.http.get(f"/api/projects/{pid}/secrets").json()
    check("RestSecretList", listed)
    assert listed == {"secrets": []}
    assert put(server, pid, "db.password", SECRET) == {"key": "db.password",
                                                       "project": {"id": pid, "name": "demo"}}
    put(server, pid, "api-key", "other")
    listed = server.http.get(f"/api/projects/{pid}/secrets").json()
    assert listed == {"secrets": [{"key": "api-key"}, {"key": "db.password"}]}
    assert SECRET not in json.dumps(listed)
    r = server.http.delete(f"/api/projects/{pid}/secrets/api-key")
    assert r.status_code == 200 and r.json()["key"] == "api-key"
    assert server.http.delete(f"/api/projects/{pid}/secrets/api-key").status_code == 200  # absent: still 200
    assert server.http.get(f"/api/projects/{pid}/secrets").json() == {"secrets": [{"key": "db.password"}]}
    # bad input, named
    assert "Invalid secret key" in error_of(server.http.put(f"/api/projects/{pid}/secrets/1bad",
                                                            json={"value": "x"}), 400)
    assert "Invalid secret key" in error_of(server.http.put(f"/api/projects/{pid}/secrets/bad.",
                                                            json={"value": "x"}), 400)
    assert "16 KiB" in error_of(server.http.put(f"/api/projects/{pid}/secrets/big",
                                                json={"value": "x" * (16 * 1024 + 1)}), 400)
    error_of(server.http.put(f"/api/projects/{pid}/secrets/k", json={}), 400)
    error_of(server.http.put(f"/api/projects/{pid}/secrets/k", content=b"not json",
                             headers={"Content-Type": "application/json"}), 400)
    error_of(server.http.get("/api/projects/999999/secrets"), 404)


def test_tasks_of_the_project_read_their_secrets_masked_and_others_do_not(server: Server, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    project = push(server, tmp_path, {"wf.dig": f"+use:\n  sh>: echo \"token ${{secret:db.password}}\" && "
                                                f"printf %s \"${{secret:db.password}}\" > {seen}\n"})
    put(server, project["id"], "db.password", SECRET)
    attempt = wait_done(server, start(server, workflow_id(server, project["id"], "wf")).json()["id"])
    assert attempt["success"], attempt
    assert seen.read_text() == SECRET  # the task had the value
    files = server.http.get(f"/api/logs/{attempt['id']}/files").json()["files"]
    text = gzip.decompress(server.http.get(f"/api/logs/{attempt['id']}/files/{files[0]['fileName']}").content).decode()
    assert text == "token ***\n"
    tasks = server.http.get(f"/api/attempts/{attempt['id']}/tasks").json()["tasks"]
    assert SECRET not in json.dumps(tasks) and SECRET not in json.dumps(attempt)

    # another project has no such secret: its task fails, naming the key and how to set it
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "wf.dig").write_text("+use:\n  sh>: echo ${secret:db.password}\n")
    other = server.push("other", "r1", pack_project(folder)).json()
    failed = wait_done(server, start(server, workflow_id(server, other["id"], "wf")).json()["id"])
    assert not failed["success"]
    errors = [t["error"] for t in server.http.get(f"/api/attempts/{failed['id']}/tasks").json()["tasks"]
              if t["fullName"] == "+wf+use"]
    assert "Secret not found for key: 'db.password'" in errors[0]["message"]
    assert "dockerflow secrets --project" in errors[0]["message"]


def test_values_are_encrypted_at_rest(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    server = Server(f"sqlite:///{db}", tmp_path)
    try:
        project = push(server, tmp_path, {"wf.dig": "+a:\n  echo>: hi\n"})
        put(server, project["id"], "db.password", SECRET)
    finally:
        server.stop()
    stored = sqlite3.connect(db).execute("SELECT value FROM project_secrets").fetchall()
    assert len(stored) == 1 and SECRET not in stored[0][0]
    assert SECRET.encode() not in db.read_bytes()
    key_file = tmp_path / ".local" / "share" / "dockerflow" / "secret.key"  # HOME is tmp_path
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def cli(server: Server, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dockerflow", *args, "-e", server.url], input=stdin,
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, NO_COLOR="1"))


def test_the_cli_sets_lists_and_deletes_a_projects_secrets(server: Server, tmp_path: Path) -> None:
    push(server, tmp_path, {"wf.dig": "+a:\n  echo>: hi\n"})
    value_file = tmp_path / "cert.pem"
    value_file.write_text("-----BEGIN-----\n")
    many = tmp_path / "many.json"
    many.write_text('{"a.one": "1", "a.two": "2"}')
    done = cli(server, "secrets", "--project", "demo", "--set", "plain=v", "--set", f"cert=@{value_file}",
               "--set", f"@{many}")
    assert done.returncode == 0, done.stderr
    assert "Secret 'cert' set in project 'demo'" in done.stdout
    done = cli(server, "secrets", "--project", "demo", "--set", "-", stdin='{"piped": "p"}')
    assert done.returncode == 0, done.stderr
    listed = cli(server, "secrets", "--project", "demo")
    assert listed.stdout.split() == ["a.one", "a.two", "cert", "piped", "plain"]
    assert cli(server, "secrets", "--project", "demo", "--delete", "plain").returncode == 0
    assert json.loads(cli(server, "secrets", "--project", "demo", "--json").stdout)["secrets"][-1] == {"key": "piped"}
    bad = cli(server, "secrets", "--project", "nope")
    assert bad.returncode == 1 and "nope" in bad.stderr
    both = cli(server, "secrets", "--project", "demo", "--local")
    assert both.returncode != 0 and "one of --local" in both.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    refused = cli(server, "secrets", "--project", "demo", "--set", f"@{broken}")
    assert refused.returncode != 0 and "broken.json: not JSON" in refused.stderr
