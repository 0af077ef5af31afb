"""Our runner of the conformance cases kept in tests/conformance/cases/ (used by
test_conformance.py and test_sdk_conformance.py): it runs the installed CLI on a case.

Each case folder is a small project plus a case.json:

    description   one line
    requires      ["docker"]: the case needs an engine and the image conformance/python:3
    steps         [{args, exit, setup, env, output, no_output, timeout}, ...]
                  args: argv after the CLI; exit: an int or "nonzero"; setup: a shell line run
                  in the project first; env: added to the environment; output / no_output:
                  regexes (re.M) searched in stdout+stderr; timeout: seconds (default 180)
    files         {path: exact content}
    files_sorted  {path: content, compared with lines sorted}
    files_match   {path: [regex, ...]}, every regex must match the content
    absent        [path, ...] that must not exist afterwards

A case is copied to a scratch folder and the CLI runs there, one process per step (with
`reuse=True`, every `docker:` mapping of its .dig files gets `reuse: true`: warm containers). A docker case
must leave no container behind: only the containers labelled with the owner pid/host/start time
of this case's CLI processes are looked at (other tests run containers in parallel).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from dockerflow.executors.docker_reaper import owner_labels
from dockerflow.images import ensure_base

CASES = Path(__file__).resolve().parents[1] / "conformance" / "cases"
IMAGE = "conformance/python:3"
MARKER = "conformance-python"
DEFAULT_TIMEOUT = 180
CASE_KEYS = {"description", "requires", "steps", "files", "files_sorted", "files_match", "absent"}
STEP_KEYS = {"args", "exit", "setup", "env", "output", "no_output", "timeout"}
REQUIREMENTS = {"docker"}

def cli() -> list[str]:
    """The dockerflow console script of the running interpreter's environment (the venv)."""
    beside = Path(sys.executable).parent / "dockerflow"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("dockerflow")
    return [found] if found else [sys.executable, "-m", "dockerflow"]


def load(case_dir: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((case_dir / "case.json").read_text())
    return spec


def ensure_conformance_image(client: docker.DockerClient) -> str:
    """conformance/python:3: our offline Debian base (python3) plus the marker file."""
    try:
        client.images.get(IMAGE)
        return IMAGE
    except docker.errors.ImageNotFound:
        pass
    base = ensure_base(on_output=lambda line: None, client=client)
    dockerfile = f'FROM {base}\nRUN printf "{MARKER}\\n" > /etc/dfconf-image\nCMD ["sh"]\n'
    # host network, as dockerflow runs containers by default (the engine may have no bridge)
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=IMAGE, rm=True, forcerm=True, network_mode="host",
                        labels={"dockerflow.image": "conformance"})
    return IMAGE


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)


def read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return None


def leftover_containers(client: docker.DockerClient, labels: dict[str, str]) -> list[str]:
    """Containers (running or not) carrying all of one CLI process's owner labels."""
    found = client.api.containers(all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]})
    return [c["Id"] for c in found]


def run_step(index: int, step: dict[str, Any], project: Path, client: docker.DockerClient | None,
             outcome: Outcome) -> bool:
    """Run one step; record its problems; return False when the case cannot go on (a timeout)."""
    name = f"step {index}"
    if step.get("setup"):
        subprocess.run(step["setup"], shell=True, cwd=project, check=False)
    env = {**os.environ, **{k: str(v) for k, v in step.get("env", {}).items()}}
    proc = subprocess.Popen(cli() + [str(a) for a in step["args"]], cwd=project, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace")
    labels = owner_labels(proc.pid)  # read while the process lives: pid, host, start time
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=step.get("timeout", DEFAULT_TIMEOUT))
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.send_signal(signal.SIGTERM)  # let it stop its containers
        try:
            stdout, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    out = stdout + stderr
    code = proc.returncode
    outcome.transcript.append(f"$ dockerflow {shlex.join(str(a) for a in step['args'])}  (exit {code})\n{out}")
    if client is not None:
        left = leftover_containers(client, labels)
        if left:
            outcome.problems.append(f"{name} left {len(left)} container(s) behind")
            for container in left:  # made by this case's CLI process: ours to remove
                client.api.remove_container(container, force=True)
    if timed_out:
        outcome.problems.append(f"{name} timed out after {step.get('timeout', DEFAULT_TIMEOUT)} s")
        return False
    want = step.get("exit", 0)
    if want == "nonzero":
        if code == 0:
            outcome.problems.append(f"{name} exited 0, expected a failure")
    elif code != want:
        outcome.problems.append(f"{name} exited {code}, expected {want}")
    for pattern in step.get("output", []):
        if not re.search(pattern, out, re.M):
            outcome.problems.append(f"{name} output lacks /{pattern}/")
    for pattern in step.get("no_output", []):
        if re.search(pattern, out, re.M):
            outcome.problems.append(f"{name} output has /{pattern}/")
    return True


def check_files(spec: dict[str, Any], project: Path, outcome: Outcome) -> None:
    for path, want in spec.get("files", {}).items():
        got = read(project / path)
        if got != want:
            outcome.problems.append(f"{path} is {got!r}, expected {want!r}")
    for path, want in spec.get("files_sorted", {}).items():
        got = read(project / path)
        if got is None or sorted(got.splitlines()) != sorted(want.splitlines()):
            outcome.problems.append(f"{path} is {got!r}, expected (lines in any order) {want!r}")
    for path, patterns in spec.get("files_match", {}).items():
        got = read(project / path)
        for pattern in patterns:
            if got is None or not re.search(pattern, got, re.M):
                outcome.problems.append(f"{path} ({got!r}) lacks /{pattern}/")
    for path in spec.get("absent", []):
        if (project / path).exists():
            outcome.problems.append(f"{path} exists, expected absent")


def check_spec(spec: dict[str, Any]) -> None:
    """The case.json is of the format this runner knows (a new key must not pass unnoticed)."""
    assert set(spec) <= CASE_KEYS, f"unknown case.json keys: {sorted(set(spec) - CASE_KEYS)}"
    assert set(spec.get("requires", [])) <= REQUIREMENTS, f"unknown requirements: {spec['requires']}"
    assert spec["steps"], "a case needs steps"
    for step in spec["steps"]:
        assert set(step) <= STEP_KEYS, f"unknown step keys: {sorted(set(step) - STEP_KEYS)}"
        assert step.get("exit", 0) == "nonzero" or isinstance(step.get("exit", 0), int), step


_DOCKER_KEY = re.compile(r"^(\s*)docker:\s*$")


def inject_reuse(text: str) -> str:
    """`reuse: true` added to every block `docker:` mapping of a .dig text (warm containers)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        match = _DOCKER_KEY.match(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if match and len(nxt) - len(nxt.lstrip(" ")) > len(match.group(1)):
            out.append(" " * (len(nxt) - len(nxt.lstrip(" "))) + "reuse: true\n")
    return "".join(out)


def use_warm_containers(project: Path) -> int:
    """inject_reuse into every .dig file of a project; how many docker: mappings it changed."""
    changed = 0
    for dig in sorted(project.rglob("*.dig")):
        text = dig.read_text(encoding="utf-8")
        new = inject_reuse(text)
        changed += new.count("reuse: true\n") - text.count("reuse: true\n")
        dig.write_text(new, encoding="utf-8")
    return changed


def run_case(case_dir: Path, work: Path, client: docker.DockerClient | None, *, reuse: bool = False) -> Outcome:
    """Copy the case to `work`/project, run its steps, check its files; the problems found.
    `client` is needed for docker cases (leftover containers are looked for and removed).
    `reuse`: every `docker:` mapping of the case's .dig files gets `reuse: true` first."""
    spec = load(case_dir)
    project = work / "project"
    shutil.copytree(case_dir, project, ignore=shutil.ignore_patterns("case.json"))
    if reuse:
        assert use_warm_containers(project) > 0, f"{case_dir.name}: no docker: mapping to add reuse: true to"
    outcome = Outcome()
    for index, step in enumerate(spec["steps"], start=1):
        if not run_step(index, step, project, client, outcome):
            break
    else:
        check_files(spec, project, outcome)
    return outcome
