"""`dockerflow run --junit`, `--quiet`, `--verbose`, and the live display under a
pseudo-terminal (on the host, no Docker)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from junit_check import check_report

CLI = [sys.executable, "-m", "dockerflow"]
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def run(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), cwd=project, capture_output=True, text=True,
                          timeout=timeout)


def write(project: Path, name: str, text: str) -> None:
    (project / name).write_text(text)


def wait_for(path: Path, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert time.time() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


FLOW = ("+a:\n  sh>: echo a >> out.txt\n"
        "+b:\n  sh>: echo b-says-hello; exit 3\n"
        "+c:\n  sh>: echo c >> out.txt\n")


def test_junit_on_failure_then_on_resume(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", FLOW)
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05", "--junit", "report.xml")
    assert r.returncode == 1, r.stderr
    cases = check_report(tmp_path / "report.xml")
    assert {n: k for n, (k, _, _) in cases.items()} == {
        "+wf+a": "passed", "+wf+b": "failure", "+wf+c": "skipped"}
    _, case, failure = cases["+wf+b"]
    assert case.get("classname") == "wf"
    assert failure is not None and failure.get("message") == "Command failed with code 3"
    assert "b-says-hello" in (failure.text or "")
    assert cases["+wf+c"][2].get("message") == "not run"  # type: ignore[union-attr]
    assert "[+wf+b] b-says-hello" in r.stdout  # the plain output is unchanged

    write(tmp_path, "wf.dig", FLOW.replace("exit 3", "true"))
    r = run(tmp_path, "run", "wf.dig", "--session", "2024-03-05", "--junit", "out/report.xml")
    assert r.returncode == 0, r.stderr
    cases = check_report(tmp_path / "out" / "report.xml")
    assert {n: k for n, (k, _, _) in cases.items()} == {
        "+wf+a": "skipped", "+wf+b": "passed", "+wf+c": "passed"}
    assert cases["+wf+a"][2].get("message") == "succeeded before"  # type: ignore[union-attr]


def test_junit_with_a_selection_retries_and_generated_tasks(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+prep:\n  echo>: prep\n"
                              "+loop:\n  loop>: 3\n  _do:\n    sh>: echo it ${i}\n"
                              "+flaky:\n  _retry: 2\n  sh>: test -f tried || { touch tried; exit 1; }\n")
    r = run(tmp_path, "run", "wf.dig", "--junit", "r.xml")
    assert r.returncode == 0, r.stderr
    cases = check_report(tmp_path / "r.xml")
    assert {n: k for n, (k, _, _) in cases.items()} == {
        "+wf+prep": "passed", "+wf+loop": "passed", "+wf+loop^sub+loop-0": "passed",
        "+wf+loop^sub+loop-1": "passed", "+wf+loop^sub+loop-2": "passed", "+wf+flaky": "passed"}
    r = run(tmp_path, "run", "wf.dig", "+flaky", "--session", "2020-01-01", "--junit", "r.xml")
    assert r.returncode == 0, r.stderr
    cases = check_report(tmp_path / "r.xml")
    assert cases["+wf+prep"][2].get("message") == "outside the selected tasks"  # type: ignore[union-attr]
    assert cases["+wf+flaky"][0] == "passed"


def test_junit_is_written_when_stopped_by_sigint(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo a\n"
                              "+slow:\n  sh>: echo slow-started; touch started; sleep 30\n"
                              "+c:\n  sh>: echo c\n")
    proc = subprocess.Popen(CLI + ["run", "wf.dig", "--junit", "r.xml"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "started")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    cases = check_report(tmp_path / "r.xml")
    assert {n: k for n, (k, _, _) in cases.items()} == {
        "+wf+a": "passed", "+wf+slow": "error", "+wf+c": "skipped"}
    error = cases["+wf+slow"][2]
    assert error is not None and error.get("message") == "stopped by SIGINT while running"
    assert error.get("type") == "Interrupted" and "slow-started" in (error.text or "")
    assert cases["+wf+c"][2].get("message") == "not run: stopped by SIGINT"  # type: ignore[union-attr]


def test_quiet_shows_only_failures_with_their_last_lines(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo noisy\n"
                              "+p:\n  _parallel: true\n"
                              "  +b:\n    sh>: for i in $(seq 1 30); do echo b$i; done; exit 2\n"
                              "  +c:\n    sh>: echo also-noisy\n")
    r = run(tmp_path, "run", "wf.dig", "--quiet")
    assert r.returncode == 1
    assert "noisy" not in r.stdout and "started" not in r.stdout
    lines = r.stdout.splitlines()
    assert lines == [f"[+wf+p+b] b{i}" for i in range(11, 31)]  # the last 20
    assert "[+wf+p+b] failed: Command failed with code 2" in r.stderr
    assert "Failed (3 run, 0 skipped, 1 failed" in r.stderr
    assert (tmp_path / ".dockerflow").exists()


def test_verbose_adds_durations_and_refuses_quiet(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo hi\n")
    r = run(tmp_path, "run", "wf.dig", "--verbose")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["[+wf+a] started", "[+wf+a] hi"]
    assert re.search(r"^\[\+wf\+a\] done in \d+\.\ds$", r.stdout, re.M), r.stdout
    r = run(tmp_path, "run", "wf.dig", "-q", "-v")
    assert r.returncode == 2
    assert "--quiet and --verbose can't be used together" in r.stderr


# -- under a pseudo-terminal ------------------------------------------------------------------

PTY_FLOW = ("+a:\n  sh>: echo out-a1; sleep 0.5; echo out-a2\n"
            "+p:\n  _parallel: true\n"
            "  +b:\n    sh>: for i in 1 2 3; do echo out-b$i; sleep 0.25; done\n"
            "  +c:\n    sh>: for i in 1 2 3; do echo out-c$i; sleep 0.25; done\n"
            "+d:\n  echo>: out-d\n")


def spawn(project: Path, *args: str) -> tuple[int, int]:
    """The CLI on a new pseudo-terminal (120x40) as its controlling terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin/stdout/stderr are the terminal
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.chdir(project)
            os.execvpe(CLI[0], CLI + list(args), env)
        finally:
            os._exit(127)
    return pid, fd


def read_until(fd: int, buf: bytearray, done: bytes | None, timeout: float) -> bool:
    """Read the terminal into `buf` until `done` appears (or EOF, when `done` is None)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done is not None and done in buf:
            return True
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return done is None
        if not chunk:
            return done is None
        buf.extend(chunk)
    return False


def finish(pid: int, fd: int, buf: bytearray) -> int:
    assert read_until(fd, buf, None, timeout=60), "the run did not end"
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_live_display_under_a_pty(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", PTY_FLOW)
    pid, fd = spawn(tmp_path, "run", "wf.dig", "--junit", "r.xml")
    buf = bytearray()
    code = finish(pid, fd, buf)
    raw = buf.decode("utf-8", "replace")
    text = ANSI.sub("", raw).replace("\r", "")
    assert code == 0, text
    assert re.search(r"dockerflow \d+ done, 0 failed, [1-9] running, \d+ left", text), text
    assert "dockerflow 0 done, 0 failed, 1 running, 3 left" in text  # +a alone first
    for line in ("out-a1", "out-a2", "out-b1", "out-b2", "out-b3", "out-c1", "out-c2", "out-c3",
                 "out-d"):
        task = {"a": "+wf+a", "b": "+wf+p+b", "c": "+wf+p+c", "d": "+wf+d"}[line[4]]
        assert text.count(f"[{task}] {line}\n") == 1, (line, text)
    assert "] started" not in text  # the live area shows what runs
    assert "4 tasks: 4 passed, 0 failed, 0 skipped in" in text  # the summary table
    assert re.search(r"^task +state +time$", text, re.M), text
    assert re.search(r"^\+wf\+a +passed +0\.\ds$", text, re.M), text
    assert "Success (4 run, 0 skipped, 0 failed" in text
    assert raw.rindex("\x1b[?25h") > raw.rindex("\x1b[?25l")  # the cursor is shown again
    assert len(check_report(tmp_path / "r.xml")) == 4


def test_ctrl_c_under_a_pty_stops_with_130_and_shows_the_cursor(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo out-a\n"
                              "+slow:\n  sh>: echo slow-started; sleep 30\n"
                              "+c:\n  sh>: echo c\n")
    pid, fd = spawn(tmp_path, "run", "wf.dig", "--junit", "r.xml")
    buf = bytearray()
    try:
        assert read_until(fd, buf, b"[+wf+slow] slow-started", timeout=30), buf.decode()
        time.sleep(0.3)  # a refresh or two of the live area
        os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT to the foreground group
        code = finish(pid, fd, buf)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    raw = buf.decode("utf-8", "replace")
    text = ANSI.sub("", raw).replace("\r", "")
    assert code == 130, text
    assert "Stopped by SIGINT" in text
    assert raw.rindex("\x1b[?25h") > raw.rindex("\x1b[?25l")
    assert re.search(r"^\+wf\+slow +stopped", text, re.M), text
    assert text.count("[+wf+a] out-a\n") == 1
    cases = check_report(tmp_path / "r.xml")
    assert cases["+wf+slow"][0] == "error" and cases["+wf+c"][0] == "skipped"


def test_no_live_display_on_a_dumb_terminal(tmp_path: Path) -> None:
    write(tmp_path, "wf.dig", "+a:\n  sh>: echo hi\n")
    env = dict(os.environ, TERM="dumb")
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(tmp_path)
            os.execvpe(CLI[0], CLI + ["run", "wf.dig"], env)
        finally:
            os._exit(127)
    buf = bytearray()
    assert finish(pid, fd, buf) == 0
    text = buf.decode().replace("\r", "")
    assert "\x1b[" not in text
    assert "[+wf+a] started\n[+wf+a] hi\n" in text
