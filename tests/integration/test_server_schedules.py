"""Schedules on a real `dockerflow server` and its real clock: a `cron>` workflow starts on the
minute, disable stops it, backfill runs past sessions one after another; two servers on one
PostgreSQL start each session exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rest_contract import check
from server_testing import Server, error_of

from dockerflow.archive import pack_project


def push(server: Server, tmp_path: Path, name: str, text: str) -> dict[str, Any]:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "wf.dig").write_text(text)
    r = server.push(name, "r1", pack_project(folder))
    assert r.status_code == 200, r.text
    return dict(r.json())


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "dockerflow", *args, "-e", server.url], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, NO_COLOR="1"))
    assert done.returncode == 0, done.stderr
    return done


def attempts(server: Server) -> list[dict[str, Any]]:
    return list(server.http.get("/api/attempts", params={"include_retried": "true"}).json()["attempts"])


def wait_for(what: Any, seconds: float, message: str) -> Any:
    deadline = time.time() + seconds
    while True:
        found = what()
        if found:
            return found
        assert time.time() < deadline, message
        time.sleep(0.5)


def test_a_cron_schedule_runs_on_the_minute_stops_when_disabled_and_backfills(tmp_path: Path) -> None:
    server = Server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    try:
        pushed_at = datetime.now(timezone.utc)
        project = push(server, tmp_path, "demo", "schedule:\n  cron>: '* * * * *'\n"
                                                 "+a:\n  sh>: sleep 1 && echo ${session_time}\n")
        listed = server.http.get("/api/schedules").json()
        check("RestScheduleCollection", listed)
        [schedule] = listed["schedules"]
        expected = (pushed_at + timedelta(minutes=1)).replace(second=0, microsecond=0)
        if pushed_at.second == 0 and pushed_at.microsecond == 0:
            expected = pushed_at
        assert schedule["nextScheduleTime"] == expected.isoformat()
        assert schedule["project"] == {"id": project["id"], "name": "demo"}
        check("RestSchedule", server.http.get(f"/api/schedules/{schedule['id']}").json())
        by_project = server.http.get(f"/api/projects/{project['id']}/schedules", params={"workflow": "wf"}).json()
        assert [s["id"] for s in by_project["schedules"]] == [schedule["id"]]

        first = wait_for(lambda: [a for a in attempts(server) if a["sessionTime"] == expected.isoformat()],
                         75, "no attempt for the first scheduled session within 75 s")[0]
        done = wait_for(lambda: (a := server.http.get(f"/api/attempts/{first['id']}").json())["done"] and a, 30,
                        "the scheduled attempt did not finish")
        assert done["success"] and done["retryAttemptName"] is None

        out = cli(server, "disable", "demo", "wf").stdout
        assert f"Disabled schedule id {schedule['id']}" in out
        disabled = server.http.get(f"/api/schedules/{schedule['id']}").json()
        assert disabled["disabledAt"] is not None
        next_session = datetime.fromisoformat(disabled["nextScheduleTime"])
        while datetime.now(timezone.utc) < next_session + timedelta(seconds=3):
            time.sleep(0.5)
        assert not [a for a in attempts(server) if a["sessionTime"] == next_session.isoformat()]
        assert "disabled" in cli(server, "schedules").stdout

        # the last three minutes, one attempt after another
        since = next_session - timedelta(minutes=3)
        out = cli(server, "backfill", "demo", "wf", "-f", since.strftime("%Y-%m-%d %H:%M:%S"), "--name", "bf").stdout
        assert "Started 3 attempts" in out
        filled = wait_for(lambda: (found := [a for a in attempts(server) if a["retryAttemptName"] == "bf"])
                          and all(a["done"] for a in found) and found, 60, "the backfill did not finish")
        filled.sort(key=lambda a: a["sessionTime"])
        assert [a["sessionTime"] for a in filled] == [(since + timedelta(minutes=i)).isoformat() for i in range(3)]
        assert all(a["success"] for a in filled)
        for before, after in zip(filled, filled[1:]):  # chained: each task began once the previous attempt ended
            [task] = [t for t in server.http.get(f"/api/attempts/{after['id']}/tasks").json()["tasks"]
                      if t["fullName"] == "+wf+a"]
            assert task["startedAt"] >= before["finishedAt"], (before, task)
        dry = server.http.post(f"/api/schedules/{schedule['id']}/backfill",
                               json={"fromTime": since.isoformat(), "attemptName": "bf", "dryRun": True})
        assert "already exists" in error_of(dry, 409)
    finally:
        server.stop()


def test_schedule_actions_refuse_bad_input(server: Server, tmp_path: Path) -> None:
    push(server, tmp_path, "demo", "schedule:\n  daily>: '07:00:00'\n+a:\n  echo>: hi\n")
    sid = server.http.get("/api/schedules").json()["schedules"][0]["id"]
    error_of(server.http.get("/api/schedules/999999"), 404)
    assert "nextTime, or count" in error_of(server.http.post(f"/api/schedules/{sid}/skip", json={}), 400)
    assert "already past" in error_of(server.http.post(f"/api/schedules/{sid}/skip",
                                                       json={"nextTime": "2000-01-01T00:00:00Z"}), 409)
    assert "invalid time" in error_of(server.http.post(f"/api/schedules/{sid}/skip",
                                                       json={"nextTime": "tomorrow"}), 400)
    assert "attemptName" in error_of(server.http.post(f"/api/schedules/{sid}/backfill",
                                                      json={"fromTime": "2024-01-01T00:00:00Z"}), 400)
    many = server.http.post(f"/api/schedules/{sid}/backfill",
                            json={"fromTime": "2000-01-01T00:00:00Z", "attemptName": "x", "dryRun": True})
    assert "more than 1000" in error_of(many, 400)
    later = server.http.post(f"/api/schedules/{sid}/skip", json={"count": 2, "fromTime": "2030-01-01T00:00:00Z",
                                                                 "dryRun": True}).json()
    check("RestScheduleSummary", later)
    assert later["nextScheduleTime"] == "2030-01-03T00:00:00+00:00"  # two after 2030-01-01's
    assert server.http.get(f"/api/schedules/{sid}").json()["nextScheduleTime"] != later["nextScheduleTime"]  # dry
    for action in ("disable", "enable"):
        for body in ({}, None):  # the CLI sends {}, the UI nothing
            r = server.http.post(f"/api/schedules/{sid}/{action}", json=body) if body is not None \
                else server.http.post(f"/api/schedules/{sid}/{action}")
            assert r.status_code == 200, r.text
            check("RestScheduleSummary", r.json())


def test_two_servers_on_one_postgresql_start_each_session_once(pg_url: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    servers = [Server(pg_url, tmp_path / "a"), Server(pg_url, tmp_path / "b")]
    try:
        for i in range(3):
            push(servers[0], tmp_path, f"p{i}", "schedule:\n  seconds_interval>: 2\n+a:\n  echo>: ${session_time}\n")
        time.sleep(180)  # three minutes of sessions every 2 s: 90 per project
        for s in servers[0].http.get("/api/schedules").json()["schedules"]:
            servers[1].http.post(f"/api/schedules/{s['id']}/disable")
        time.sleep(3)  # whatever was being started when they were disabled
        found = attempts(servers[0])
        while found and len(found) % 100 == 0:
            page = servers[0].http.get("/api/attempts", params={"include_retried": "true",
                                                                "last_id": found[-1]["id"]}).json()["attempts"]
            if not page:
                break
            found += page
        per_project: dict[str, list[datetime]] = {}
        for a in found:
            per_project.setdefault(a["project"]["name"], []).append(datetime.fromisoformat(a["sessionTime"]))
        assert sorted(per_project) == ["p0", "p1", "p2"]
        for name, times in per_project.items():
            times.sort()
            assert len(times) == len(set(times)), f"{name}: a session started twice"
            assert len(times) >= 80, f"{name}: only {len(times)} sessions in 180 s"
            gaps = {(b - a).total_seconds() for a, b in zip(times, times[1:])}
            assert gaps == {2.0}, f"{name}: sessions missing or doubled: {gaps}"
    finally:
        for s in servers:
            s.stop()


def test_schedule_from_and_clear_schedule_on_push(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "wf.dig").write_text("timezone: Asia/Tokyo\nschedule:\n  daily>: '07:00:00'\n+a:\n  echo>: hi\n")
    done = subprocess.run([sys.executable, "-m", "dockerflow", "push", "demo", "--project", str(folder), "-r", "r1",
                           "--schedule-from", "2030-01-01 12:00:00 +0900", "-e", server.url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [schedule] = server.http.get("/api/schedules").json()["schedules"]
    assert schedule["nextScheduleTime"] == "2030-01-02T00:00:00+09:00"  # 01-01's 07:00 run is before 12:00
    assert schedule["nextRunTime"] == "2030-01-01T22:00:00Z"
    data = pack_project(folder)
    assert server.push("demo", "r2", data).status_code == 200  # same block: kept
    assert server.http.get(f"/api/schedules/{schedule['id']}").json()["nextScheduleTime"] == "2030-01-02T00:00:00+09:00"
    r = server.http.put("/api/projects", params={"project": "demo", "revision": "r3", "clear_schedule": "wf",
                                                 "schedule_from": "2031-06-01T00:00:00Z"},
                        content=data, headers={"Content-Type": "application/gzip"})
    assert r.status_code == 200, r.text
    assert server.http.get(f"/api/schedules/{schedule['id']}").json()["nextScheduleTime"] == "2031-06-02T00:00:00+09:00"  # 06-01 07:00 JST ran before 09:00 JST
    bad = subprocess.run([sys.executable, "-m", "dockerflow", "push", "demo", "--project", str(folder),
                          "--schedule-from", "tomorrow", "-e", server.url], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "yyyy-MM-dd HH:mm:ss Z" in bad.stderr
    (folder / "wf.dig").write_text("+a:\n  echo>: no schedule now\n")
    assert server.push("demo", "r4", pack_project(folder)).status_code == 200
    assert server.http.get("/api/schedules").json() == {"schedules": []}
