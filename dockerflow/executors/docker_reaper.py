"""Labels that identify our containers, and the reaper that removes those of dead owners.

    owner_labels()                 dockerflow=1, dockerflow.owner.{pid,host,started}
    reap_orphans(client) -> ids    remove containers of this host whose owner process is gone

A container belongs to the process that created it (pid + process start time, on this host).
The owner is alive when /proc/<pid> exists, started at the same time (when we know it), and
looks like dockerflow (its command line mentions dockerflow or python). Containers of other
hosts sharing the engine are never touched.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import docker
import docker.errors

from dockerflow.executors.docker_errors import docker_errors, retrying

MARKER = "dockerflow"
OWNER_PID = "dockerflow.owner.pid"
OWNER_HOST = "dockerflow.owner.host"
OWNER_STARTED = "dockerflow.owner.started"
TASK = "dockerflow.task"


def _start_ticks(pid: int) -> str | None:
    """The process start time (clock ticks since boot) from /proc/<pid>/stat, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after ')' are plain.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def owner_labels(pid: int | None = None) -> dict[str, str]:
    """The labels that mark a container as ours and name its owner process."""
    pid = os.getpid() if pid is None else pid
    labels = {MARKER: "1", OWNER_PID: str(pid), OWNER_HOST: socket.gethostname()}
    started = _start_ticks(pid)
    if started is not None:
        labels[OWNER_STARTED] = started
    return labels


def owner_alive(pid_text: str | None, started: str | None = None) -> bool:
    """Whether the owner process still runs and is a dockerflow (python) process."""
    try:
        pid = int(pid_text or "")
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    if "dockerflow" not in cmdline and "python" not in cmdline:
        return False  # the pid was reused by something else
    return started is None or _start_ticks(pid) in (None, started)


def reap_orphans(client: docker.DockerClient | None = None) -> list[str]:
    """Remove this host's dockerflow containers whose owner process is gone; return their ids."""
    if client is None:
        with docker_errors(doing="connecting"):
            client = docker.from_env()
    api = client.api
    host = socket.gethostname()
    removed: list[str] = []
    with docker_errors(api.base_url, doing="listing dockerflow containers"):
        containers = retrying(
            lambda: api.containers(all=True, filters={"label": [f"{MARKER}=1", f"{OWNER_HOST}={host}"]})
        )
    for container in containers:
        labels = container.get("Labels") or {}
        if owner_alive(labels.get(OWNER_PID), labels.get(OWNER_STARTED)):
            continue
        cid = str(container["Id"])
        try:
            with docker_errors(api.base_url, doing=f"removing orphan container {cid[:12]}"):
                retrying(lambda cid=cid: api.remove_container(cid, force=True))  # type: ignore[misc]
        except Exception as exc:
            if not isinstance(exc.__cause__, docker.errors.NotFound):
                raise
            continue
        removed.append(cid)
    return removed
