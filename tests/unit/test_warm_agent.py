"""Warm containers without an engine: the `reuse` option, the launcher script the agent runs,
and how a task's output is cut at the agent's end markers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dockerflow.dig.compile import Compiler
from dockerflow.errors import DigError, ExecutorError
from dockerflow.executors.docker_options import DockerOptionsError, parse_docker_options
from dockerflow.executors.docker_stream import LineSplitter
from dockerflow.executors.docker_warm import AGENT, _Stream, launcher, quote
from dockerflow.operators import OPERATOR_NAMES


def test_reuse_is_an_option_off_by_default() -> None:
    assert parse_docker_options({"image": "x"}).reuse is False
    assert parse_docker_options({"image": "x", "reuse": True}).reuse is True
    assert parse_docker_options({"image": "x", "reuse": "yes"}).reuse is True
    with pytest.raises(DockerOptionsError, match="docker.reuse: expected true or false"):
        parse_docker_options({"image": "x", "reuse": "sometimes"})


def test_reuse_is_checked_when_the_workflow_is_compiled() -> None:
    compiler = Compiler(OPERATOR_NAMES)
    compiler.compile_task("+t", {"_export": {"docker": {"image": "x", "reuse": True}}, "sh>": "true"})
    with pytest.raises(DigError, match="reuse"):
        compiler.compile_task("+t", {"_export": {"docker": {"image": "x", "reuse": "maybe"}}, "sh>": "true"})
    with pytest.raises(DigError, match="did you mean 'reuse'"):
        compiler.compile_task("+t", {"_export": {"docker": {"image": "x", "resue": True}}, "sh>": "true"})


def test_quote_round_trips_through_sh() -> None:
    for text in ["", "plain", "it's", "a 'b' \"c\" $d `e` \\f", "line\nbreak", "ünï 😀"]:
        out = subprocess.run(["/bin/sh", "-c", f"printf %s {quote(text)}"], capture_output=True, text=True)
        assert out.stdout == text


def test_launcher_sets_cwd_env_and_execs(tmp_path: Path) -> None:
    script = tmp_path / "launch.sh"
    env = {"A": "1", "QUOTED": "it's \"x\"\n2", "PATH": os.environ["PATH"]}
    script.write_text(launcher(["/bin/sh", "-c", 'echo "$A|$QUOTED|$(pwd)|$$"'], env, str(tmp_path)))
    out = subprocess.run(["/bin/sh", "-c", f'( . {quote(str(script))} ) & echo "$!"; wait'],
                         capture_output=True, text=True, cwd="/")
    pid, line = out.stdout.split("\n", 1)
    assert line == f"1|it's \"x\"\n2|{tmp_path}|{pid}\n"  # exec: the task is the agent's child


def test_launcher_refuses_names_that_are_not_shell_names() -> None:
    with pytest.raises(ExecutorError, match="shell names"):
        launcher(["true"], {"A-B": "1"}, "/")


@pytest.mark.parametrize("payload,want", [
    (b"a\nb\n", ["a", "b"]), (b"a\nb", ["a", "b"]), (b"", []), (b"\n", [""]), (b"a\n\n", ["a", ""]),
    (b"\n\nx", ["", "", "x"]),
])
def test_output_is_cut_at_the_marker(payload: bytes, want: list[str]) -> None:
    lines: list[str] = []
    stream = _Stream("\x1etok", lines.append)
    splitter = LineSplitter(stream.line)
    splitter.feed(payload + b"\n\x1etok 3\n" + b"after the marker\n")
    assert lines == want and stream.done and stream.code == 3


def test_the_agent_runs_requests_and_reports_exit_codes(tmp_path: Path) -> None:
    """The agent itself, on the host: requests on stdin, markers and codes on stdout/stderr
    (without its `kill -KILL -1`, which on the host would kill every process of ours)."""
    first, second = tmp_path / "1.sh", tmp_path / "2.sh"
    first.write_text(launcher(["/bin/sh", "-c", "echo one; echo err >&2; exit 3"], {}, str(tmp_path)))
    second.write_text(launcher(["/bin/sh", "-c", "printf two"], {}, "/"))
    proc = subprocess.run(["/bin/sh", "-c", AGENT.replace("kill -s KILL -- -1", ":")],
                          input=f"T1 {first}\nT2 {second}\n", capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0
    assert proc.stdout == "one\n\nT1 3\ntwo\nT2 0\n"
    assert proc.stderr == "err\n\nT1\n\nT2\n"
