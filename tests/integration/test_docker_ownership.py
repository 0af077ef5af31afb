"""Files written by containers belong to the invoking (non-root) user; the reaper; `gc`.

The ownership test creates a user in the docker group and runs the executor as that user in
a subprocess (runuser), so it needs root; it is skipped otherwise.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from dockerflow.cli.gc_cmd import gc
from dockerflow.executors.docker import reap_orphans
from dockerflow.images import ensure_base

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
TEST_USER = "dockerflow-test"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


@pytest.fixture(scope="module")
def base(client: docker.DockerClient) -> str:
    return ensure_base(on_output=lambda line: None, client=client)


# ---------------------------------------------------------------- ownership as a non-root user


def _test_user() -> pwd.struct_passwd:
    if os.geteuid() != 0 or shutil.which("runuser") is None or shutil.which("useradd") is None:
        pytest.skip("needs root, runuser and useradd to create a non-root test user")
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--groups", "docker", TEST_USER], check=True)
        return pwd.getpwnam(TEST_USER)


def _python_for(user: str) -> tuple[str, dict[str, str]]:
    """An interpreter the user can run, and the environment that finds dockerflow + docker."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": f"/home/{user}"}
    if subprocess.run([RUNUSER, "-u", user, "--", sys.executable, "-c", "import docker"],
                      env={**env}, capture_output=True, check=False).returncode == 0:
        return sys.executable, env
    # The venv's interpreter lives where the user cannot go (e.g. under /root): use the system
    # python3 of the same version with the venv's packages.
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no python3 the test user can run")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])
    probe = subprocess.run([RUNUSER, "-u", user, "--", system, "-c", "import docker, dockerflow"],
                           env=env, capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"the test user cannot import dockerflow: {probe.stderr.strip()[-300:]}")
    return system, env


SCRIPT = """
import json, sys
from pathlib import Path
from dockerflow.executors.base import ExecRequest
from dockerflow.executors.docker import DockerExecutor
from dockerflow.executors.docker_options import parse_docker_options
project = Path(sys.argv[1])
lines = []
result = DockerExecutor().run(ExecRequest(
    argv=["/bin/sh", "-c", "id -u; echo hi > written.txt; mkdir -p sub && touch sub/f; echo x > $HOME/h && echo home-ok"],
    env={}, cwd=project, project_dir=project, io_dir=project / ".dockerflow" / "io" / "t",
    task_name="+own", on_output=lines.append, docker=parse_docker_options({"image": sys.argv[2]})))
print(json.dumps({"exit": result.exit_code, "lines": lines}))
"""


def test_files_written_in_the_project_belong_to_the_invoking_user(client: docker.DockerClient, base: str) -> None:
    user = _test_user()
    python, env = _python_for(user.pw_name)
    project = Path(tempfile.mkdtemp(prefix="dockerflow-own-", dir="/tmp"))
    try:
        (project / ".dockerflow" / "io" / "t").mkdir(parents=True)
        for path in [project, *project.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        proc = subprocess.run(
            [RUNUSER, "-u", user.pw_name, "--", python, "-c", SCRIPT, str(project), base],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out == {"exit": 0, "lines": [str(user.pw_uid), "home-ok"]}
        assert client.containers.list(all=True, filters={"label": "dockerflow.task=+own"}) == []
        for path in (project / "written.txt", project / "sub", project / "sub" / "f"):
            stat = path.stat()
            assert (stat.st_uid, stat.st_gid) == (user.pw_uid, user.pw_gid), path
    finally:
        shutil.rmtree(project, ignore_errors=True)


# ---------------------------------------------------------------- reaper


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _labelled(client: docker.DockerClient, base: str, pid: int, **extra: str) -> str:
    labels = {"dockerflow": "1", "dockerflow.owner.pid": str(pid), "dockerflow.owner.host": socket.gethostname(),
              "dockerflow.task": "+reaper", **extra}
    return str(client.api.create_container(base, command=["true"], labels=labels)["Id"])


def test_reap_orphans_removes_containers_of_dead_owners_only(client: docker.DockerClient, base: str) -> None:
    dead = _labelled(client, base, _dead_pid())
    mine = _labelled(client, base, os.getpid())
    not_dockerflow = _labelled(client, base, 1)  # pid 1 is alive but is not a dockerflow process
    other_host = _labelled(client, base, _dead_pid(), **{"dockerflow.owner.host": "some-other-host"})
    try:
        removed = reap_orphans(client)
        assert dead in removed and not_dockerflow in removed
        assert mine not in removed and other_host not in removed
        ids = {c.id for c in client.containers.list(all=True, filters={"label": "dockerflow.task=+reaper"})}
        assert ids == {mine, other_host}
    finally:
        for cid in (dead, mine, not_dockerflow, other_host):
            try:
                client.api.remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass


def test_gc_command_prints_what_it_removed(client: docker.DockerClient, base: str) -> None:
    orphan = _labelled(client, base, _dead_pid())
    try:
        result = CliRunner().invoke(gc, [])
        assert result.exit_code == 0, result.output
        assert f"removed {orphan[:12]}" in result.output
        assert "orphan container(s) removed" in result.output
    finally:
        try:
            client.api.remove_container(orphan, force=True)
        except docker.errors.NotFound:
            pass
