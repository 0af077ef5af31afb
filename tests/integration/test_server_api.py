"""`dockerflow server` as a real process on loopback, over SQLite and a real PostgreSQL:
projects (push, list, get, revisions, archive, delete), workflow definitions,
truncated_session_time, version, and the errors clients get. Every response is checked
against the fields Digdag's clients require (rest_contract.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from rest_contract import check
from server_testing import CLI, Server, error_of

from dockerflow.archive import pack_project


def project_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    (folder / "sub").mkdir(parents=True)
    (folder / "main.dig").write_text("timezone: Asia/Tokyo\nschedule:\n  daily>: 07:00:00\n"
                                     "_export:\n  greeting: hi\n+a:\n  echo>: ${greeting}\n"
                                     "+b:\n  call>: sub/child\n")
    (folder / "sub" / "child.dig").write_text("+c:\n  !include : 'part.yml'\n")
    (folder / "sub" / "part.yml").write_text("echo>: from the child\n")
    (folder / "other.dig").write_text("+x:\n  sh>: echo x\n")
    (folder / ".secret").write_text("left out by push\n")
    return folder


def tar_of(*entries: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_push_list_and_read_a_project(server: Server, tmp_path: Path) -> None:
    data = pack_project(project_folder(tmp_path))
    r = server.http.put("/api/projects", params={"project": "demo", "revision": "r1"}, content=data,
                        headers={"Content-Type": "application/gzip"})
    assert r.status_code == 200, r.text
    pushed = r.json()
    check("RestProject", pushed)
    assert pushed["name"] == "demo" and pushed["revision"] == "r1" and pushed["archiveType"] == "db"
    assert pushed["deletedAt"] is None
    assert pushed["archiveMd5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    pid = pushed["id"]

    listed = server.http.get("/api/projects").json()
    check("RestProjectCollection", listed)
    assert [p["id"] for p in listed["projects"]] == [pid]
    assert server.http.get("/api/projects", params={"name": "demo"}).json()["projects"][0]["id"] == pid
    assert server.http.get("/api/projects", params={"name": "nope"}).json() == {"projects": []}
    assert server.http.get("/api/projects", params={"name_pattern": "em"}).json()["projects"][0]["id"] == pid
    check("RestProject", server.http.get(f"/api/projects/{pid}").json())
    assert server.http.get("/api/project", params={"name": "demo"}).json()["id"] == pid

    workflows = server.http.get(f"/api/projects/{pid}/workflows").json()
    check("RestWorkflowDefinitionCollection", workflows)
    assert [w["name"] for w in workflows["workflows"]] == ["main", "other"]  # top-level .dig only
    main = workflows["workflows"][0]
    assert main["timezone"] == "Asia/Tokyo" and main["project"] == {"id": pid, "name": "demo"}
    assert "timezone" not in main["config"] and main["config"]["schedule"] == {"daily>": "07:00:00"}
    assert list(main["config"]) == ["schedule", "_export", "+a", "+b"]
    by_name = server.http.get(f"/api/projects/{pid}/workflows", params={"name": "other"}).json()
    assert [w["name"] for w in by_name["workflows"]] == ["other"]
    assert server.http.get(f"/api/projects/{pid}/workflows/main").json()["id"] == main["id"]
    assert server.http.get(f"/api/projects/{pid}/workflow", params={"name": "main"}).json()["id"] == main["id"]
    assert server.http.get(f"/api/workflows/{main['id']}").json() == main
    assert server.http.get("/api/workflow", params={"project": "demo", "name": "main"}).json() == main
    every = server.http.get("/api/workflows").json()
    check("RestWorkflowDefinitionCollection", every)
    assert [w["name"] for w in every["workflows"]] == ["main", "other"]
    backwards = server.http.get("/api/workflows", params={"order": "desc", "count": 1}).json()
    assert [w["name"] for w in backwards["workflows"]] == ["other"]

    archive = server.http.get(f"/api/projects/{pid}/archive")
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/gzip"
    assert archive.content == data
    names = tarfile.open(fileobj=io.BytesIO(archive.content)).getnames()
    assert ".secret" not in names and "sub/part.yml" in names

    revisions = server.http.get(f"/api/projects/{pid}/revisions").json()
    check("RestRevisionCollection", revisions)
    assert [r["revision"] for r in revisions["revisions"]] == ["r1"]


def test_a_new_revision_and_a_reused_name(server: Server, tmp_path: Path) -> None:
    folder = project_folder(tmp_path)
    first = server.push("demo", "r1", pack_project(folder)).json()
    (folder / "third.dig").write_text("+t:\n  echo>: three\n")
    second = server.push("demo", "r2", pack_project(folder))
    assert second.status_code == 200, second.text
    assert second.json()["id"] == first["id"] and second.json()["revision"] == "r2"
    pid = first["id"]
    assert [w["name"] for w in server.http.get(f"/api/projects/{pid}/workflows").json()["workflows"]] \
        == ["main", "other", "third"]
    old = server.http.get(f"/api/projects/{pid}/workflows", params={"revision": "r1"}).json()
    assert [w["name"] for w in old["workflows"]] == ["main", "other"]
    assert server.http.get(f"/api/workflows/{old['workflows'][0]['id']}").status_code == 200  # old ids stay
    message = error_of(server.push("demo", "r1", pack_project(folder)), 409)
    assert "r1" in message
    assert [r["revision"] for r in server.http.get(f"/api/projects/{pid}/revisions").json()["revisions"]] \
        == ["r2", "r1"]
    error_of(server.http.get(f"/api/projects/{pid}/workflows", params={"revision": "r9"}), 404)


def test_a_bad_workflow_is_refused_naming_file_and_line_and_nothing_is_stored(server: Server,
                                                                              tmp_path: Path) -> None:
    folder = project_folder(tmp_path)
    (folder / "broken.dig").write_text("+a:\n  echo>: fine\n+b:\n  sh>: x\n  ech>: typo\n")
    message = error_of(server.push("demo", "r1", pack_project(folder)), 400)
    assert "broken.dig:5" in message
    (folder / "broken.dig").write_text("+a:\n  call>: missing\n")
    assert "missing" in error_of(server.push("demo", "r1", pack_project(folder)), 400)
    assert server.http.get("/api/projects").json() == {"projects": []}


@pytest.mark.parametrize("bad, named", [
    ((entry("/etc/evil.dig"), b"+a:\n  echo>: x\n"), "/etc/evil.dig"),
    ((entry("../up.dig"), b"+a:\n  echo>: x\n"), "../up.dig"),
    ((entry("link", tarfile.SYMTYPE, "../../etc/passwd"), None), "link"),
    ((entry("dev", tarfile.CHRTYPE), None), "dev"),
    ((entry("pipe", tarfile.FIFOTYPE), None), "pipe"),
])
def test_unsafe_archives_are_refused_whole(server: Server, bad: tuple[tarfile.TarInfo, bytes | None],
                                           named: str) -> None:
    good = (entry("wf.dig"), b"+a:\n  echo>: x\n")
    message = error_of(server.push("demo", "r1", tar_of(good, bad)), 400)
    assert named in message
    assert server.http.get("/api/projects").json() == {"projects": []}


def test_what_a_push_must_look_like(server: Server, tmp_path: Path) -> None:
    data = pack_project(project_folder(tmp_path))
    assert "not a gzip" in error_of(server.push("demo", "r1", b"plain text"), 400)
    assert "project=" in error_of(server.http.put("/api/projects", params={"revision": "r"}, content=data,
                                                  headers={"Content-Type": "application/gzip"}), 400)
    assert "revision=" in error_of(server.http.put("/api/projects", params={"project": "p"}, content=data,
                                                   headers={"Content-Type": "application/gzip"}), 400)
    error_of(server.http.put("/api/projects", params={"project": "p", "revision": "r"}, content=data,
                             headers={"Content-Type": "text/plain"}), 415)
    chunked = server.http.put("/api/projects", params={"project": "p", "revision": "r"},
                              content=iter([data]), headers={"Content-Type": "application/gzip"})
    assert "Content-Length" in error_of(chunked, 400)
    assert server.http.get("/api/projects").json() == {"projects": []}


def test_delete_frees_the_name(server: Server, tmp_path: Path) -> None:
    data = pack_project(project_folder(tmp_path))
    pid = server.push("demo", "r1", data).json()["id"]
    deleted = server.http.delete(f"/api/projects/{pid}")
    assert deleted.status_code == 200
    check("RestProject", deleted.json())
    assert deleted.json()["deletedAt"] is not None
    assert "already deleted" in error_of(server.http.get(f"/api/projects/{pid}"), 404)
    error_of(server.http.delete(f"/api/projects/{pid}"), 404)
    assert server.http.get("/api/projects").json() == {"projects": []}
    again = server.push("demo", "r1", data).json()
    assert again["id"] != pid


def test_truncated_session_time(server: Server, tmp_path: Path) -> None:
    pid = server.push("demo", "r1", pack_project(project_folder(tmp_path))).json()["id"]
    main = server.http.get(f"/api/projects/{pid}/workflows/main").json()
    other = server.http.get(f"/api/projects/{pid}/workflows/other").json()

    def truncated(workflow: dict[str, object], **params: str) -> str:
        r = server.http.get(f"/api/workflows/{workflow['id']}/truncated_session_time", params=params)
        assert r.status_code == 200, r.text
        check("RestWorkflowSessionTime", r.json())
        return str(r.json()["sessionTime"])

    # 2024-05-01T12:34:56.789Z is 21:34:56 in Tokyo
    assert truncated(main, session_time="2024-05-01T12:34:56.789Z") == "2024-05-01T21:34:56+09:00"
    assert truncated(main, session_time="2024-05-01T12:34:56Z", mode="hour") == "2024-05-01T21:00:00+09:00"
    assert truncated(main, session_time="2024-05-01T12:34:56Z", mode="day") == "2024-05-01T00:00:00+09:00"
    # daily> 07:00:00 runs at 07:00 for the session of 00:00 that day. schedule: the first
    # session that runs at or after the time; next_schedule: the session after the time.
    assert truncated(main, session_time="2024-05-01T12:34:56Z", mode="schedule") == "2024-05-02T00:00:00+09:00"
    assert truncated(main, session_time="2024-04-30T21:00:00Z", mode="schedule") == "2024-05-01T00:00:00+09:00"
    assert truncated(main, session_time="2024-04-30T22:00:00Z", mode="schedule") == "2024-05-01T00:00:00+09:00"
    assert truncated(main, session_time="2024-04-30T22:00:01Z", mode="schedule") == "2024-05-02T00:00:00+09:00"
    assert truncated(main, session_time="2024-05-01T12:34:56Z", mode="next_schedule") == "2024-05-02T00:00:00+09:00"
    assert truncated(main, session_time="2024-05-01T00:00:00+09:00", mode="next_schedule") == "2024-05-02T00:00:00+09:00"
    assert truncated(main, session_time="2016-01-01T00:00") == "2016-01-01T00:00:00+09:00"  # the CLI's local form
    assert truncated(other, session_time="2016-01-01T00:00:00Z") == "2016-01-01T00:00:00+00:00"
    assert "no schedule" in error_of(server.http.get(
        f"/api/workflows/{other['id']}/truncated_session_time",
        params={"session_time": "2016-01-01T00:00:00Z", "mode": "schedule"}), 400)
    error_of(server.http.get(f"/api/workflows/{main['id']}/truncated_session_time",
                             params={"session_time": "2016-01-01T00:00:00Z", "mode": "second"}), 404)
    error_of(server.http.get(f"/api/workflows/{main['id']}/truncated_session_time",
                             params={"session_time": "yesterday"}), 400)


def test_version_and_the_errors_clients_get(server: Server) -> None:
    version = server.http.get("/api/version").json()
    check("RestVersion", version)
    assert version["server"].startswith("dockerflow ")
    result = server.http.get("/api/version/check", params={"client": "0.10.5"}).json()
    check("RestVersionCheckResult", result)
    assert result["apiCompatible"] is True and result["upgradeRecommended"] is False
    error_of(server.http.get("/api/version/check", params={"client": "not a version"}), 400)
    error_of(server.http.get("/api/version/check"), 400)
    assert "not found" in error_of(server.http.get("/api/projects/12345"), 404)
    error_of(server.http.get("/api/projects/abc"), 404)  # JAX-RS: a param that doesn't convert
    error_of(server.http.get("/api/projects", params={"count": "many"}), 404)
    error_of(server.http.get("/api/workflows", params={"order": "sideways"}), 400)
    error_of(server.http.get("/api/workflows/999"), 404)
    error_of(server.http.get("/api/no/such/route"), 404)
    error_of(server.http.get("/api/project"), 400)
    schema = server.http.get("/api/openapi.json").json()
    assert "/api/projects" in schema["paths"]


def test_a_public_address_needs_to_be_asked_for(tmp_path: Path) -> None:
    r = subprocess.run(CLI + ["server", "--bind", "0.0.0.0", "--database", str(tmp_path / "s.db")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--allow-unauthenticated" in r.stderr


def test_token_and_basic_authentication(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("s3cret-token\n")
    (tmp_path / "users").write_text("# who may use the API\nalice:wonder land\n")
    token = Server(f"sqlite:///{tmp_path / 't.db'}", tmp_path, "--auth", "token", "--auth-file",
                   str(tmp_path / "token"))
    try:
        assert token.http.get("/api/version").status_code == 200  # always open
        assert error_of(token.http.get("/api/projects"), 401) == "Authentication failed"
        error_of(token.http.get("/api/projects", headers={"Authorization": "Bearer wrong"}), 401)
        ok = token.http.get("/api/projects", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and ok.json() == {"projects": []}
    finally:
        token.stop()
    basic = Server(f"sqlite:///{tmp_path / 'b.db'}", tmp_path, "--auth", "basic", "--auth-file",
                   str(tmp_path / "users"))
    try:
        error_of(basic.http.get("/api/projects", auth=("alice", "wrong")), 401)
        error_of(basic.http.get("/api/projects", auth=("bob", "wonder land")), 401)
        assert basic.http.get("/api/projects", auth=("alice", "wonder land")).status_code == 200
    finally:
        basic.stop()
    bad = subprocess.run(CLI + ["server", "--auth", "basic", "--auth-file", str(tmp_path / "token"),
                                "--database", str(tmp_path / "x.db")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "expected user:password" in bad.stderr


def test_writes_from_another_sites_pages_are_refused(server: Server, tmp_path: Path) -> None:
    evil = {"Origin": "http://attacker.example", "Content-Type": "application/x-www-form-urlencoded"}
    r = server.http.post("/api/attempts/1/kill", headers=evil, content=b"")
    assert "from another site" in error_of(r, 403)
    assert server.http.delete("/api/projects/1", headers={"Origin": "null"}).status_code == 403
    host = server.url.split("://", 1)[1]
    same = server.http.post("/api/attempts/999999/kill", headers={"Origin": f"http://{host}"})
    assert same.status_code == 404  # its own pages' writes go through
    assert server.http.get("/api/projects", headers={"Origin": "http://attacker.example"}).status_code == 200
