"""Digdag's configuration file on `dockerflow run`: -c FILE and the default files, params and
secrets from it, precedence against -P and -p, refusals with FILE:LINE. Real CLI processes
with HOME pointed at a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "dockerflow"]

SHOW = "+show:\n  sh>: echo \"${a}|${b}|${c}|${nested.x}|${nested.y}\" > out.txt\n"


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    env["HOME"] = str(project / "home")
    return subprocess.run(CLI + list(args), cwd=project, capture_output=True, text=True,
                          timeout=60, env=env)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_params_reach_tasks_under_params_files_and_p(tmp_path: Path) -> None:
    write(tmp_path / "wf.dig", SHOW)
    write(tmp_path / "my.config",
          "# Digdag's format\n! a comment too\n\n"
          "params.a = from-config\nparams.b: from-config\nparams.c=from-config\n"
          "params.nested.x = cx\nparams.nested.y = \\\n    cy\n"
          "server.port = 65432\ndatabase.type = memory\nsomething.else.entirely = 1\n")
    write(tmp_path / "p.yml", "b: from-P\nc: from-P\nnested: {y: Py}\n")
    r = run(tmp_path, "run", "wf.dig", "-c", "my.config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "from-config|from-config|from-config|cx|cy\n"
    r = run(tmp_path, "run", "wf.dig", "--rerun", "-c", "my.config", "-P", "p.yml", "-p", "c=from-p")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "from-config|from-P|from-p|cx|Py\n"


def test_config_secrets_reach_sh_and_are_masked(tmp_path: Path) -> None:
    write(tmp_path / "wf.dig", "+a:\n  sh>: echo \"${secret:api.token}\" > out.txt;"
                               " echo \"token ${secret:api.token} ${secret:both}\"\n")
    write(tmp_path / "c.properties", "secrets.api.token = tok-from-config-123\n"
                                     "secrets.both = both-from-config\n")
    write(tmp_path / "home" / ".config" / "dockerflow" / "secrets.json",
          '{"both": "both-from-local-store"}')
    r = run(tmp_path, "run", "wf.dig", "--config", "c.properties")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "tok-from-config-123\n"
    assert "[+wf+a] token *** ***" in r.stdout  # the local store wins for `both`; both masked
    out = r.stdout + r.stderr
    assert "tok-from-config" not in out and "both-from" not in out
    logs = "".join(p.read_text() for p in (tmp_path / ".dockerflow" / "logs").rglob("*.log"))
    assert "token *** ***" in logs and "tok-from-config" not in logs


def test_local_store_wins_over_config_secrets(tmp_path: Path) -> None:
    write(tmp_path / "wf.dig", "+a:\n  sh>: echo ${secret:both} > out.txt\n")
    write(tmp_path / "c.properties", "secrets.both = from-config\n")
    write(tmp_path / "home" / ".config" / "dockerflow" / "secrets.json", '{"both": "from-store"}')
    r = run(tmp_path, "run", "wf.dig", "-c", "c.properties")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "from-store\n"


def test_default_files_ours_first_then_digdags(tmp_path: Path) -> None:
    write(tmp_path / "wf.dig", "+a:\n  sh>: echo ${where} > out.txt\n")
    digdag = write(tmp_path / "home" / ".config" / "digdag" / "config", "params.where = digdag\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "digdag\n"
    write(tmp_path / "home" / ".config" / "dockerflow" / "config", "params.where = ours\n")
    r = run(tmp_path, "run", "wf.dig", "--rerun")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "ours\n"  # only the first file is read
    write(tmp_path / "explicit", "params.where = explicit\n")
    digdag.write_text("this line is broken\n")  # -c given: the default files are not read
    r = run(tmp_path, "run", "wf.dig", "--rerun", "-c", "explicit")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "explicit\n"


def test_bad_or_missing_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "wf.dig", "+a:\n  sh>: touch ran\n")
    write(tmp_path / "bad.config", "params.ok = 1\n# fine\nparams.broken\n")
    r = run(tmp_path, "run", "wf.dig", "-c", "bad.config")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "error: bad.config:3: expected KEY = VALUE" in r.stderr
    write(tmp_path / "clash.config", "params.a = 1\nparams.a.b = 2\n")
    r = run(tmp_path, "run", "wf.dig", "-c", "clash.config")
    assert r.returncode == 2 and "clash.config:2: params.a.b needs params.a to be an object" in r.stderr
    r = run(tmp_path, "run", "wf.dig", "-c", "missing.config")
    assert r.returncode == 2 and "-c missing.config: file not found" in r.stderr
    bad_default = write(tmp_path / "home" / ".config" / "dockerflow" / "config", "secrets.bad key = x\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 2 and f"{bad_default}:1:" in r.stderr
    assert not (tmp_path / "ran").exists() and not (tmp_path / ".dockerflow").exists()
