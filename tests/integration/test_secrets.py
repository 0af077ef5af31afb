"""Local secrets: set/list/delete, ${secret:KEY} in sh> and _env, remaps, masking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "dockerflow"]


def run(project: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_CONFIG_HOME=str(config))
    return subprocess.run(CLI + list(args), cwd=project, capture_output=True, text=True,
                          timeout=60, env=env)


def test_secrets_reach_tasks_and_never_the_log(tmp_path: Path) -> None:
    config = tmp_path / "config"
    r = run(tmp_path, config, "secrets", "--local", "--set", "token=s3cr3t-value",
            "--set", "staging_db.password=pw-staging")
    assert r.returncode == 0 and "Secret 'token' set" in r.stdout, r.stderr
    secrets_file = config / "dockerflow" / "secrets.json"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    listed = run(tmp_path, config, "secrets", "--local")
    assert listed.stdout.split() == ["staging_db.password", "token"]
    (tmp_path / "wf.dig").write_text(
        "+a:\n  sh>: echo \"${secret:token}\" > out.txt; echo \"printing ${secret:token}\"\n"
        "+b:\n  _env:\n    TOKEN: ${secret:token}\n  sh>: echo \"$TOKEN\" >> out.txt\n"
        "+c:\n  _secrets:\n    db: staging_db\n  +inner:\n    sh>: echo ${secret:db.password} >> out.txt\n")
    r = run(tmp_path, config, "run", "wf.dig")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "s3cr3t-value\ns3cr3t-value\npw-staging\n"
    assert "printing ***" in r.stdout
    assert "s3cr3t-value" not in r.stdout + r.stderr
    logs = "".join(p.read_text() for p in (tmp_path / ".dockerflow" / "logs").rglob("*.log"))
    assert "printing ***" in logs and "s3cr3t-value" not in logs
    state = "".join(p.read_text() for p in (tmp_path / ".dockerflow").rglob("*") if p.is_file()
                    and p.suffix != ".db")
    assert "s3cr3t" not in state


def test_missing_secret_fails_the_task_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text("+a:\n  sh>: echo ${secret:nope}\n")
    r = run(tmp_path, tmp_path / "config", "run", "wf.dig")
    assert r.returncode == 1
    assert "Secret not found for key: 'nope'" in r.stderr


def test_delete(tmp_path: Path) -> None:
    config = tmp_path / "config"
    run(tmp_path, config, "secrets", "--local", "--set", "k=v")
    r = run(tmp_path, config, "secrets", "--local", "--delete", "k")
    assert r.returncode == 0 and "Secret 'k' deleted" in r.stdout
    assert run(tmp_path, config, "secrets", "--local", "--delete", "k").returncode == 2
