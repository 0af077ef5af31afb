"""param_set> / param_get> against the run's own database: a local run's state.db (values
kept between runs) and a real server's (values shared between projects, as Digdag's param
server is site-wide)."""

from __future__ import annotations

import time
from pathlib import Path

from server_testing import Server
from test_cli_local import run, write
from test_server_attempts import start, wait_done, workflow_id

from dockerflow.archive import pack_project

SET = "+set:\n  param_set>:\n  last_id: ${n}\n  label: batch-${n}\n"
GET = ("+get:\n  param_get>:\n  last_id: previous\n  label: previous_label\n  missing: nothing\n"
       "+show:\n  sh>: echo \"[${previous}] [${previous_label}] [${nothing}]\" >> seen.txt\n")


def test_a_local_run_keeps_values_for_the_next_run(tmp_path: Path) -> None:
    write(tmp_path, "set.dig", SET)
    write(tmp_path, "get.dig", GET)
    r = run(tmp_path, "run", "get.dig", "--session", "2024-01-01")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "seen.txt").read_text() == "[] [] []\n"  # nothing set yet: ""
    r = run(tmp_path, "run", "set.dig", "-p", "n=41", "--session", "2024-01-01")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "not used" not in r.stderr  # param_set>'s keys are its data, not unknown options
    r = run(tmp_path, "run", "get.dig", "--session", "2024-01-02")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "seen.txt").read_text().splitlines()[-1] == "[41] [batch-41] []"


def test_bad_param_set_input_is_named(tmp_path: Path) -> None:
    write(tmp_path, "empty.dig", "+set:\n  param_set>:\n")
    r = run(tmp_path, "run", "empty.dig")
    assert r.returncode == 1 and "param_set> at +empty+set: no key is set" in r.stderr
    write(tmp_path, "nested.dig", "+set:\n  param_set>:\n  k: [1, 2]\n")
    r = run(tmp_path, "run", "nested.dig")
    assert r.returncode == 1 and "the value of 'k' must be a string or a number, got a list" in r.stderr


def test_the_server_shares_values_between_projects(server: Server, tmp_path: Path) -> None:
    ids = {}
    for name, text in (("writer", SET), ("reader", GET)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "wf.dig").write_text(text.replace("seen.txt", str(tmp_path / "seen.txt")))
        r = server.push(name, "r1", pack_project(folder))
        assert r.status_code == 200, r.text
        ids[name] = workflow_id(server, r.json()["id"], "wf")
    r = server.http.put("/api/attempts", json={"workflowId": ids["writer"], "sessionTime": "2024-01-01T00:00:00Z",
                                               "params": {"n": 7}})
    assert wait_done(server, r.json()["id"])["success"]
    assert wait_done(server, start(server, ids["reader"]).json()["id"])["success"]
    deadline = time.time() + 10
    while not (tmp_path / "seen.txt").exists():
        assert time.time() < deadline
        time.sleep(0.1)
    assert (tmp_path / "seen.txt").read_text() == "[7] [batch-7] []\n"
