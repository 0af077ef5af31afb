"""Every file of tests/bad-input/ is refused with one clear line, the right exit status and no
traceback. Each folder holds main.dig (and helpers) and `expect`: exit=N [args=FLAGS]
[env=NAME=VALUE] where=TEXT match=REGEX (a few cases are hard but legal input: exit=0). Refusals (exit 2) come from `check` too, before any task runs, and
leave no attempt marked as running."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "bad-input"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expect").is_file())


def parse_expect(text: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r"(\w+)=(.*?)(?=\s+\w+=|$)", text.strip()):
        out[m.group(1)] = m.group(2)
    return out


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case: str, tmp_path: Path) -> None:
    project = tmp_path / case
    shutil.copytree(CORPUS / case, project)
    expect = parse_expect((project / "expect").read_text())
    extra = shlex.split(expect.get("args", ""))
    commands = [["run", "main.dig", "--session", "2024-03-05", *extra]]
    if expect["exit"] == "2":
        commands.append(["check", "main.dig", *extra])
    env = dict(os.environ)
    if "env" in expect:
        name, _, value = expect["env"].partition("=")
        env[name] = value
    for command in commands:
        r = subprocess.run([sys.executable, "-m", "dockerflow", *command], cwd=project,
                           capture_output=True, text=True, timeout=60, env=env)
        out = r.stdout + r.stderr
        assert r.returncode == int(expect["exit"]), (command, out)
        assert "Traceback" not in out, out
        lines = [line for line in out.splitlines()
                 if expect["where"] in line and re.search(expect["match"], line)]
        assert lines, f"{command[0]}: no line names {expect['where']!r} and matches {expect['match']!r}:\n{out}"
    if expect["exit"] == "2":
        assert not (project / ".dockerflow" / "io").exists(), "a task ran before the refusal"
        assert not (project / "ran.txt").exists(), "a task ran before the refusal"
    db = project / ".dockerflow" / "state.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            statuses = [row[0] for row in conn.execute("SELECT status FROM attempts")]
        assert "running" not in statuses, statuses
