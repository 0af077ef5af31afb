"""Operators that only generate children, and the sh> output file: pure logic."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from dockerflow.errors import TaskFailure
from dockerflow.executors.host import HostExecutor
from dockerflow.operators import OPERATORS
from dockerflow.operators.base import OperatorContext
from dockerflow.operators.sh import params_env, read_output_file


def ctx(op: str, command: Any, tmp_path: Path, max_tasks: int = 1000, **config: Any) -> OperatorContext:
    cfg = {"_command": command, **config}
    return OperatorContext(
        full_name="+wf+t", op=op, config=cfg, params=dict(cfg), project_dir=tmp_path,
        io_root=tmp_path / "io", output=lambda line: None, host=HostExecutor(),
        docker=lambda: HostExecutor(), canceled=threading.Event(), taskside=tmp_path,
        max_tasks=max_tasks, load_config=lambda p: {})


def children(op: str, command: Any, tmp_path: Path, **config: Any) -> dict[str, Any]:
    result = OPERATORS[op].run(ctx(op, command, tmp_path, _do={"echo>": "x"}, **config))
    assert result.subtask_config is not None
    return result.subtask_config


def test_for_each_cartesian_order_and_names(tmp_path: Path) -> None:
    sub = children("for_each", {"fruit": ["apple", "orange"], "verb": ["eat", "throw"]}, tmp_path)
    assert list(sub) == ["+for-0=fruit=0=apple&1=verb=0=eat", "+for-0=fruit=0=apple&1=verb=1=throw",
                         "+for-0=fruit=1=orange&1=verb=0=eat", "+for-0=fruit=1=orange&1=verb=1=throw"]
    assert sub["+for-0=fruit=1=orange&1=verb=0=eat"]["_export"] == {"fruit": "orange", "verb": "eat"}


def test_for_each_json_strings_and_long_values(tmp_path: Path) -> None:
    sub = children("for_each", '{"k": ["a very long value", "x"]}', tmp_path)
    assert list(sub)[0] == "+for-0=k=0=a%20very%20l"
    sub = children("for_each", {"k": '["p", "q"]'}, tmp_path)
    assert [c["_export"]["k"] for c in sub.values()] == ["p", "q"]


def test_for_range_step_and_slices(tmp_path: Path) -> None:
    sub = children("for_range", {"from": 0, "to": 10, "step": 3}, tmp_path)
    assert list(sub) == ["+range-from=0&to=3", "+range-from=3&to=6", "+range-from=6&to=9",
                         "+range-from=9&to=10"]
    assert sub["+range-from=9&to=10"]["_export"]["range"] == {"from": 9, "to": 10, "index": 3}
    sub = children("for_range", {"from": 0, "to": 10, "slices": 3}, tmp_path)
    assert list(sub) == ["+range-from=0&to=4", "+range-from=4&to=8", "+range-from=8&to=10"]
    with pytest.raises(TaskFailure, match="exactly one of"):
        children("for_range", {"from": 0, "to": 10, "step": 1, "slices": 2}, tmp_path)


def test_loop_exports_index_and_copies_parallel(tmp_path: Path) -> None:
    sub = children("loop", 3, tmp_path, _parallel="true")
    assert sub["_parallel"] == "true"
    assert [sub[f"+loop-{i}"]["_export"] for i in range(3)] == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_loop_subtask_limit(tmp_path: Path) -> None:
    with pytest.raises(TaskFailure, match="Too many loop subtasks"):
        OPERATORS["loop"].run(ctx("loop", 11, tmp_path, max_tasks=10, _do={"echo>": "x"}))


def test_if_takes_the_right_branch(tmp_path: Path) -> None:
    op = OPERATORS["if"]
    taken = op.run(ctx("if", "true", tmp_path, _do={"echo>": "yes"}, _else_do={"echo>": "no"}))
    assert taken.subtask_config == {"echo>": "yes"}
    assert op.run(ctx("if", False, tmp_path, _do={"echo>": "yes"})).subtask_config is None
    with pytest.raises(TaskFailure, match="true or false"):
        op.run(ctx("if", "maybe", tmp_path, _do={"echo>": "yes"}))


def test_fail_and_echo(tmp_path: Path) -> None:
    lines: list[str] = []
    c = ctx("echo", "hello", tmp_path)
    c.output = lines.append
    OPERATORS["echo"].run(c)
    assert lines == ["hello"]
    with pytest.raises(TaskFailure, match="stop here"):
        OPERATORS["fail"].run(ctx("fail", "stop here", tmp_path))


def test_output_file_forms(tmp_path: Path) -> None:
    f = tmp_path / "out"
    assert read_output_file(f) == {}
    f.write_text("# comment\nA=1\nB=x=y\n\n")
    assert read_output_file(f) == {"A": "1", "B": "x=y"}
    f.write_text('{"n": 5, "o": {"k": true}}')
    assert read_output_file(f) == {"n": 5, "o": {"k": True}}
    f.write_text("not a pair\n")
    with pytest.raises(TaskFailure, match="line 1 is not KEY=VALUE"):
        read_output_file(f)


def test_params_env_skips_non_identifiers_and_docker() -> None:
    env = params_env({"a": "x", "n": 3, "obj": {"k": 1}, "bad-key": "1", "docker": {"image": "i"},
                      "none": None})
    assert env == {"a": "x", "n": "3", "obj": '{"k":1}'}
