"""Property tests: for random task trees and random failures, the scheduler always finishes,
never runs a task before its upstream siblings succeeded, and keeps within retry limits."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dockerflow.dig.compile import Compiler
from dockerflow.graph.scheduler import Scheduler
from dockerflow.graph.states import TaskState
from dockerflow.graph.task import Task, TaskResult

names = st.integers(min_value=0, max_value=10**6).map(lambda i: f"+t{i}")


def leaf() -> st.SearchStrategy[dict[str, Any]]:
    opts = st.fixed_dictionaries({}, optional={
        "_retry": st.integers(0, 2), "_error": st.just({"echo>": "handled"}),
        "_check": st.just({"echo>": "checked"}), "_background": st.just(True)})
    return st.builds(lambda op, o: {op: "x" if op == "sh>" else "${n}", **o}, st.sampled_from(["sh>", "loop>"]), opts)


def group(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    kids = st.dictionaries(names, children, min_size=0, max_size=4)
    opts = st.fixed_dictionaries({}, optional={
        "_parallel": st.one_of(st.just(True), st.builds(lambda n: {"limit": n}, st.integers(1, 3))),
        "_retry": st.integers(0, 1), "_error": st.just({"echo>": "handled"})})
    return st.builds(lambda k, o: _fix({**o, **k}), kids, opts)


def _fix(config: dict[str, Any]) -> dict[str, Any]:
    """Background children are not allowed in a parallel group."""
    if config.get("_parallel"):
        for key, value in config.items():
            if key.startswith("+") and isinstance(value, dict):
                value.pop("_background", None)
    return config


trees = st.recursive(leaf(), group, max_leaves=12).filter(
    lambda c: any(k.startswith("+") for k in c))


def _with_do(config: Any) -> Any:
    """loop> needs a `_do` to compile; the test supplies the generated children itself."""
    if not isinstance(config, dict):
        return config
    out = {k: _with_do(v) for k, v in config.items()}
    if "loop>" in out:
        out["_do"] = {"sh>": "x"}
    return out


def upstream_ok(task: Task) -> bool:
    return all(u.state is TaskState.SUCCESS for u in task.upstreams)


@settings(max_examples=300, deadline=None)
@given(trees, st.sets(st.integers(0, 40)), st.integers(0, 1000))
def test_scheduler_always_finishes_and_respects_order(config: dict[str, Any], failing: set[int],
                                                      seed: int) -> None:
    compiler = Compiler({"sh", "echo", "loop"})
    root = compiler.compile_workflow_root("wf", {k: _with_do(v) for k, v in config.items()})
    generated = compiler.compile_task("^sub", {"_parallel": seed % 2 == 0, "+a": {"sh>": "x"},
                                               "+b": {"sh>": "x", "_retry": 1}, "+c": {}})
    clock = [0.0]
    s = Scheduler(root, clock=lambda: clock[0])
    s.start()
    runs: dict[str, int] = {}
    steps = 0
    while not s.done:
        steps += 1
        assert steps < 10_000, "the scheduler did not finish"
        ready = s.pop_ready()
        if not ready:
            assert s.next_wakeup() is not None, "stalled: nothing ready and nothing waiting"
            clock[0] += 1000
            s.wake()
            continue
        for i, t in enumerate(ready):
            assert t.state is TaskState.READY
            assert t.parent is None or t.parent.state is TaskState.PLANNED
            assert upstream_ok(t), f"{t.full_name} ran before its upstreams succeeded"
            s.mark_running(t)
            runs[t.full_name] = runs.get(t.full_name, 0) + 1
            if (t.id + seed + i) % 41 in failing and t.name not in ("^error", "^check"):
                s.fail(t, {"message": "boom"})
            elif t.spec.op == "loop":  # an operator that generates children
                s.succeed(t, TaskResult(sub_spec=generated))
            else:
                s.succeed(t, TaskResult())
    assert s.root.state in (TaskState.SUCCESS, TaskState.GROUP_ERROR)
    stack = [s.root]
    while stack:
        t = stack.pop()
        assert t.state in (TaskState.SUCCESS, TaskState.ERROR, TaskState.GROUP_ERROR,
                           TaskState.BLOCKED), (t, t.state)
        if t.state is TaskState.BLOCKED:
            assert not upstream_ok(t) or (t.parent and t.parent.state.failed)
        stack.extend(t.children)
    # Nothing runs more often than its own retries times its ancestors' group retries allow.
    for name, count in runs.items():
        assert count <= 3 * 2 ** (name.count("+") + name.count("^")), (name, count)
