"""`sla:` in a local run: once the attempt runs past its duration the `^sla` tasks start (the
alert is only logged without a server's notifier), `fail: true` fails the attempt, and an
attempt that ends in time runs none of them."""

from __future__ import annotations

from pathlib import Path

from test_cli_local import run, write


def test_a_broken_sla_runs_its_tasks_and_fails_the_attempt(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "sla:\n  duration: '00:00:01'\n  fail: true\n  +note:\n    sh>: echo late >> out.txt\n"
                              "+slow:\n  sh>: sleep 3 && echo slow >> out.txt\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 1, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "late\nslow\n"
    assert "SLA violation (no notification.type is set: nothing is sent)" in r.stdout + r.stderr
    assert "+wf^sla^fail" in r.stderr


def test_an_attempt_in_time_runs_no_sla_task(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "sla:\n  duration: '01:00'\n  +note:\n    sh>: echo late >> out.txt\n+quick:\n  echo>: hi\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "out.txt").exists() and "SLA" not in r.stdout + r.stderr


def test_a_bad_sla_is_refused_naming_the_line(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  echo>: hi\nsla:\n  duration: '5 minutes'\n")
    r = run(tmp_path, "check", "wf.dig")
    assert r.returncode == 2 and "wf.dig:3" in r.stderr and "use HH:MM or HH:MM:SS" in r.stderr
    write(tmp_path, "wf.dig", "+a:\n  echo>: hi\nsla:\n  time: '02:00'\n  fial: true\n")
    r = run(tmp_path, "check", "wf.dig")
    assert r.returncode == 2 and "unknown key 'fial'" in r.stderr and "fail" in r.stderr
