"""The local CLI end to end on the host (no Docker): resume, signals, check, init, selection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "dockerflow"]


def run(project: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(CLI + list(args), cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def write(project: Path, name: str, text: str) -> None:
    (project / name).write_text(text)


def test_failure_summary_names_task_and_resume_hint(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo a >> out.txt\n+b:\n  sh>: exit 3\n")
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")
    assert r.returncode == 1
    assert "* +wf+b:" in r.stderr and "Command failed with code 3" in r.stderr
    assert "to resume" in r.stderr and "--rerun" in r.stderr
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo a >> out.txt\n+b:\n  sh>: echo b >> out.txt\n")
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "a\nb\n"
    assert "[+wf+a] skipped (succeeded before)" in r.stdout


def test_session_defaults_to_last_used(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo ${session_date} >> out.txt\n")
    assert run(tmp_path, "run", "wf.dig", "--session", "2020-02-02").returncode == 0
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 0 and "2020-02-02" in r.stderr
    assert (tmp_path / "out.txt").read_text() == "2020-02-02\n"  # skipped: same session


def live_members(group: int) -> list[int]:
    """Processes of a process group that still run (zombies waiting for their reaper, which
    this machine's init may be slow to be, are dead)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_sigint_stops_running_task_and_next_run_resumes(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo a >> out.txt\n"
                              "+slow:\n  sh>: echo $$$$ > pid; touch started; sleep 30; echo slow >> out.txt\n"
                              "+c:\n  sh>: echo c >> out.txt\n")  # $$$$: the shell's $$
    proc = subprocess.Popen(CLI + ["run", "wf.dig", "--session", "2024-03-05"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while not (tmp_path / "started").exists():
        assert time.time() < deadline, "the slow task never started"
        time.sleep(0.05)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert time.time() - t0 < 10
    assert "resume" in err
    # the task's shell led its own process group (its sleep is in it): none of it is left
    group = int((tmp_path / "pid").read_text())
    assert live_members(group) == [], "the task's processes were left running"
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo a >> out.txt\n"
                              "+slow:\n  sh>: echo slow >> out.txt\n"
                              "+c:\n  sh>: echo c >> out.txt\n")
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "a\nslow\nc\n"


def test_check_prints_tree_and_refuses_bad_files(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "_export: {x: 1}\n+g:\n  _parallel: true\n  +a: {echo>: hi}\n"
                              "  +b:\n    sh>: echo b\n    _retry: 2\n")
    r = run(tmp_path, "check", "wf.dig")
    assert r.returncode == 0, r.stderr
    assert "+wf+g  (group, parallel)" in r.stdout
    assert "+wf+g+b  (sh>; retry 2)" in r.stdout
    write(tmp_path, "bad.dig", "+a:\n  sh>: x\n  echo>: y\n")
    r = run(tmp_path, "check", "bad.dig")
    assert r.returncode == 2 and "bad.dig:3" in r.stderr


def test_init_host_creates_a_project_that_runs_here(tmp_path: Path) -> None:
    r = run(tmp_path, "init", "proj", "--host")
    assert r.returncode == 0, r.stderr
    assert "docker:" not in (tmp_path / "proj" / "hello.dig").read_text().split("_export:")[1]
    r = run(tmp_path / "proj", "run", "hello.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hello from 2024-03-05" in r.stdout
    assert f"as uid {os.getuid()}" in r.stdout
    assert "the answer is 30" in r.stdout
    assert run(tmp_path, "init", "proj").returncode == 2  # never overwrites


def test_init_writes_the_image_and_refuses_conflicting_flags(tmp_path: Path) -> None:
    r = run(tmp_path, "init", "proj", "--image", "python:3.12-slim")
    assert r.returncode == 0, r.stderr
    assert "tasks run in python:3.12-slim" in r.stdout
    r = run(tmp_path / "proj", "check", "hello.dig")
    assert r.returncode == 0, r.stderr
    assert '_export.docker: {"image": "python:3.12-slim"}' in r.stdout
    r = run(tmp_path, "init", "other", "--host", "--image", "x")
    assert r.returncode == 2 and "can't be used together" in r.stderr
    assert not (tmp_path / "other").exists()


def test_dry_run_runs_nothing(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo a >> out.txt\n")
    r = run(tmp_path, "run", "wf.dig", "--dry-run", "--session", "2024-03-05")
    assert r.returncode == 0 and not (tmp_path / "out.txt").exists()


def test_host_only_workflow_never_contacts_docker(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo ok > out.txt\n")
    r = run(tmp_path, "run", "wf.dig", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "ok\n"


def test_sh_output_file_stores_params(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo 'version=1.2.3' >> $DOCKERFLOW_OUTPUT\n"
                              "+b:\n  sh>: |\n    echo '{\"n\": 5}' > $DOCKERFLOW_OUTPUT\n"
                              "+c:\n  sh>: echo ${version} ${n + 1} > out.txt\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "1.2.3 6\n"


def test_py_import_dockerflow_alias_and_export(tmp_path: Path) -> None:
    write(tmp_path, "tasks.py", "import dockerflow\n\n"
                                "def gen():\n    dockerflow.env.export({'who': 'child'})\n"
                                "    dockerflow.env.add_subtask({'sh>': 'echo ${who} >> out.txt'})\n")
    write(tmp_path, "wf.dig", "+gen:\n  py>: tasks.gen\n+after:\n  sh>: echo ${typeof who} >> out.txt\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "child\nundefined\n"


def test_moment_uses_workflow_timezone(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "timezone: Asia/Tokyo\n+a:\n  sh>: echo "
                              "\"${moment(session_time).add(1, 'days').format('YYYY-MM-DD HH:mm Z')}\""
                              " > out.txt\n")
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "2024-03-06 00:00 +09:00\n"


def test_task_argument_runs_only_that_subtree(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo a >> out.txt\n+b:\n  +b1:\n    sh>: echo b1 >> out.txt\n"
                              "+c:\n  sh>: echo c >> out.txt\n")
    r = run(tmp_path, "run", "wf.dig", "+b")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "b1\n"
    r = run(tmp_path, "run", "wf.dig", "+nope")
    assert r.returncode == 2 and "+nope" in r.stderr


@pytest.mark.parametrize("flags", [["--start", "+a", "--goal", "+b"], ["--rerun", "--start", "+a"]])
def test_conflicting_selection_flags(tmp_path: Path, flags: list[str]) -> None:
    write(tmp_path, "wf.dig", "+a:\n  echo>: a\n+b:\n  echo>: b\n")
    r = run(tmp_path, "run", "wf.dig", *flags)
    assert r.returncode == 2 and "can't be used together" in r.stderr


def test_error_handler_sees_message_and_failed_task_name(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+g:\n  +bad:\n    fail>: disk full\n"
                              "_error:\n  sh>: echo \"${error.message}|${error.task_name}|${task_name}\""
                              " > err.txt\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 1
    assert (tmp_path / "err.txt").read_text() == "disk full|+wf+g+bad|+wf^error\n"


def test_call_in_subfolders_sets_working_directory(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    write(tmp_path, "wf.dig", "+c:\n  call>: sub/child\n+top:\n  sh>: echo \"top ${typeof _workdir}\" >> out.txt\n")
    write(tmp_path / "sub", "child.dig", "+here:\n  sh>: echo \"$(basename $(pwd)) ${_workdir}\" >> ../out.txt\n"
                                         "+deeper:\n  call>: deeper/leaf.dig\n")
    write(tmp_path / "sub" / "deeper", "leaf.dig", "+leaf:\n  sh>: echo \"$(basename $(pwd)) ${_workdir}\" >> ../../out.txt\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "sub sub\ndeeper sub/deeper\ntop undefined\n"


def test_if_branch_not_taken_may_use_undefined_names(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+i:\n  if>: false\n  _do:\n    echo>: ${nowhere}\n  _else_do:\n"
                              "    sh>: echo else > out.txt\n")
    r = run(tmp_path, "run", "wf.dig")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "else\n"


def test_require_runs_the_child_once_and_fails_with_it(tmp_path: Path) -> None:
    write(tmp_path, "child.dig", "+c:\n  sh>: echo child ${session_date} >> out.txt\n")
    write(tmp_path, "parent.dig", "+r:\n  require>: child\n+after:\n  sh>: echo parent >> out.txt\n")
    assert run(tmp_path, "run", "parent.dig", "--session", "2024-03-05").returncode == 0
    r = run(tmp_path, "run", "parent.dig", "--session", "2024-03-05", "--rerun")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "child 2024-03-05\nparent\nparent\n"
    write(tmp_path, "bad.dig", "+b:\n  fail>: broken child\n")
    write(tmp_path, "p2.dig", "+r:\n  require>: bad\n")
    r = run(tmp_path, "run", "p2.dig")
    assert r.returncode == 1 and "Dependent workflow failed." in r.stderr
    write(tmp_path, "p3.dig", "+r:\n  require>: bad\n  ignore_failure: true\n")
    assert run(tmp_path, "run", "p3.dig").returncode == 0


def test_require_rerun_on_all_and_cycles(tmp_path: Path) -> None:
    write(tmp_path, "child.dig", "+c:\n  sh>: echo child >> out.txt\n")
    write(tmp_path, "parent.dig", "+r:\n  require>: child\n  rerun_on: all\n")
    for _ in range(2):
        assert run(tmp_path, "run", "parent.dig", "--rerun").returncode == 0
    assert (tmp_path / "out.txt").read_text() == "child\nchild\n"
    write(tmp_path, "a.dig", "+r:\n  require>: b\n")
    write(tmp_path, "b.dig", "+r:\n  require>: a\n")
    r = run(tmp_path, "run", "a.dig")
    assert r.returncode == 1 and "require> cycle" in r.stderr


def test_workflow_in_a_subfolder_runs_there(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    write(tmp_path / "jobs", "nightly.dig", "+a:\n  sh>: echo \"$(basename $(pwd)) ${_workdir}\" > out.txt\n")
    r = run(tmp_path, "run", "jobs/nightly.dig")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "jobs" / "out.txt").read_text() == "jobs jobs\n"


def test_resume_replays_generated_children(tmp_path: Path) -> None:
    write(tmp_path, "sub.dig", "+s:\n  sh>: echo call >> out.txt\n")
    write(tmp_path, "tasks.py", "import digdag\n\ndef gen():\n"
                                "    digdag.env.store({'k': 'stored'})\n"
                                "    digdag.env.add_subtask({'sh>': 'echo sub >> out.txt'})\n")
    body = ("+c:\n  call>: sub\n+l:\n  for_each>:\n    n: [1, 2]\n  _do:\n    sh>: echo n${n} >> out.txt\n"
            "+p:\n  py>: tasks.gen\n+last:\n  sh>: echo ${k} >> out.txt; test -f ok\n")
    write(tmp_path, "wf.dig", body)
    assert run(tmp_path, "run", "wf.dig", "--session", "2024-03-05").returncode == 1
    (tmp_path / "ok").touch()
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "out.txt").read_text() == "call\nn1\nn2\nsub\nstored\nstored\n"
    assert "[+wf+l^sub+for-0=n=0=1] skipped (succeeded before)" in r.stdout
    assert "[+wf+p^sub+subtask0] skipped (succeeded before)" in r.stdout


def test_host_only_run_does_not_even_load_the_docker_sdk(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo ok\n")
    code = ("import sys\nfrom dockerflow.cli.main import main\nsys.argv = ['dockerflow', 'run', 'wf.dig']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('docker loaded:', 'docker' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "docker loaded: False" in r.stdout, r.stdout + r.stderr


def test_groups_nested_hundreds_deep_with_long_names_run(tmp_path: Path) -> None:
    depth = 300
    lines = [" " * i + f"+group_with_a_rather_long_name_{i}:" for i in range(depth)]
    lines.append(" " * depth + "sh>: echo deep > deep.txt && echo logged")
    write(tmp_path, "wf.dig", "\n".join(lines) + "\n+after:\n  echo>: done\n")
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "deep.txt").read_text() == "deep\n"
    logs = list((tmp_path / ".dockerflow" / "logs").rglob("*.log"))
    assert [p.read_text() for p in logs] == ["logged\n"]
    assert all(len(p.name.encode()) < 255 for p in logs)
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")  # resumes: nothing runs again
    assert r.returncode == 0 and "Success (0 run" in r.stderr, r.stderr[-2000:]


def test_a_tasks_own_keys_are_variables_in_the_order_written(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  val: ${2 + 3}\n  command: echo ${val}\n  sh>: ${command}\n")
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05")
    assert r.returncode == 0, r.stderr
    assert "[+wf+a] 5" in r.stdout
