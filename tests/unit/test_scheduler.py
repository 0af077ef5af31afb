"""The pure scheduler: ordering, chunked limits, background, retries, error handlers."""

from __future__ import annotations

from dockerflow.dig.compile import Compiler
from dockerflow.dig.yaml_loader import load_text
from dockerflow.graph.scheduler import Scheduler, TooManyTasks
from dockerflow.graph.states import TaskState
from dockerflow.graph.task import Task, TaskResult

OPS = {"sh", "echo", "fail", "loop", "call", "if"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(text: str, clock: Clock | None = None, max_tasks: int = 1000) -> Scheduler:
    root = Compiler(OPS, "wf.dig").compile_workflow_root("wf", load_text(text, "wf.dig"))
    return Scheduler(root, max_tasks=max_tasks, clock=clock or Clock())


def names(tasks: list[Task]) -> list[str]:
    return [t.full_name for t in tasks]


def run_all(s: Scheduler, fail: set[str] = frozenset(), log: list[str] | None = None) -> list[list[str]]:
    """Drive the scheduler; each round runs every ready task. Returns the rounds."""
    rounds = []
    s.start()
    while not s.done:
        ready = s.pop_ready()
        if not ready:
            s.clock.now = s.clock.now + 1000  # type: ignore[attr-defined]
            s.wake()
            continue
        rounds.append(names(ready))
        for t in ready:
            s.mark_running(t)
        for t in ready:
            if log is not None:
                log.append(t.full_name)
            if t.full_name in fail:
                s.fail(t, {"message": "boom"})
            else:
                s.succeed(t, TaskResult())
    return rounds


def test_sequential_order():
    s = make("+a: {sh>: a}\n+b: {sh>: b}\n+c:\n  +c1: {sh>: x}\n  +c2: {sh>: y}\n+d: {sh>: d}\n")
    assert run_all(s) == [["+wf+a"], ["+wf+b"], ["+wf+c+c1"], ["+wf+c+c2"], ["+wf+d"]]
    assert s.success


def test_parallel_group_runs_together_then_joins():
    s = make("+p:\n  _parallel: true\n  +a: {sh>: a}\n  +b: {sh>: b}\n+after: {sh>: c}\n")
    assert run_all(s) == [["+wf+p+a", "+wf+p+b"], ["+wf+after"]]


def test_parallel_limit_is_chunked_barrier():
    s = make("+p:\n  _parallel: {limit: 2}\n" + "".join(f"  +t{i}: {{sh>: x}}\n" for i in range(5)))
    assert run_all(s) == [["+wf+p+t0", "+wf+p+t1"], ["+wf+p+t2", "+wf+p+t3"], ["+wf+p+t4"]]


def test_background_runs_beside_previous_and_next_waits_for_both():
    s = make("+a: {sh>: a}\n+b: {sh>: b, _background: true}\n+c: {sh>: c}\n")
    assert run_all(s) == [["+wf+a", "+wf+b"], ["+wf+c"]]


def test_after_in_parallel_group():
    s = make("+p:\n  _parallel: true\n  +a: {sh>: a}\n  +b: {sh>: b}\n"
             "  +c: {sh>: c, _after: [+a]}\n")
    assert run_all(s) == [["+wf+p+a", "+wf+p+b"], ["+wf+p+c"]]


def test_failure_blocks_later_siblings_and_fails_root():
    s = make("+a: {sh>: a}\n+b: {sh>: b}\n+c: {sh>: c}\n")
    run_all(s, fail={"+wf+b"})
    c = s.root.children[2]
    assert c.state is TaskState.BLOCKED
    assert s.root.state is TaskState.GROUP_ERROR and not s.success


def test_parallel_siblings_finish_before_group_fails():
    s = make("+p:\n  _parallel: true\n  +a: {sh>: a}\n  +b: {sh>: b}\n")
    log: list[str] = []
    run_all(s, fail={"+wf+p+a"}, log=log)
    assert log == ["+wf+p+a", "+wf+p+b"] and not s.success


def test_leaf_retry_then_error():
    s = make("+a: {sh>: a, _retry: 2}\n")
    log: list[str] = []
    run_all(s, fail={"+wf+a"}, log=log)
    assert log == ["+wf+a"] * 3
    assert s.root.children[0].state is TaskState.ERROR


def test_retry_interval_waits_on_the_clock():
    clock = Clock()
    s = make("+a:\n  sh>: a\n  _retry: {limit: 3, interval: 10, interval_type: exponential,"
             " max_interval: 25}\n", clock)
    s.start()
    waits = []
    for _ in range(3):
        (t,) = s.pop_ready()
        s.mark_running(t)
        s.fail(t, {"message": "x"})
        waits.append(s.next_wakeup())
        clock.now = t.retry_at
        s.wake()
    assert waits == [10, 20, 25]


def test_group_retry_reruns_whole_group():
    s = make("+g:\n  _retry: 1\n  +one: {sh>: a}\n  +two: {sh>: b}\n")
    s.start()
    log = []
    attempts = 0
    while not s.done:
        ready = s.pop_ready()
        if not ready:
            s.clock.now += 1  # type: ignore[attr-defined]
            s.wake()
            continue
        for t in ready:
            s.mark_running(t)
            log.append(t.name)
            if t.name == "+two" and attempts == 0:
                attempts += 1
                s.fail(t, {"message": "x"})
            else:
                s.succeed(t, TaskResult())
    assert log == ["+one", "+two", "+one", "+two"] and s.success


def test_error_handlers_run_innermost_first_and_run_still_fails():
    s = make("_error: {sh>: root-handler}\n+g:\n  _error: {sh>: g-handler}\n"
             "  +a:\n    sh>: a\n    _error: {sh>: a-handler}\n")
    log: list[str] = []
    run_all(s, fail={"+wf+g+a"}, log=log)
    assert log == ["+wf+g+a", "+wf+g+a^error", "+wf+g^error", "+wf^error"]
    assert not s.success
    assert s.root.children[0].children[0].state is TaskState.ERROR


def test_error_handler_sees_failed_task_name():
    s = make("+a: {sh>: a}\n_error: {sh>: h}\n")
    s.start()
    (a,) = s.pop_ready()
    s.mark_running(a)
    s.fail(a, {"message": "boom"})
    (handler,) = s.pop_ready()
    assert handler.full_name == "+wf^error"
    assert handler.parent.error["task_name"] == "+wf+a"
    assert handler.parent.error["message"] == "boom"


def test_check_runs_after_success_before_next():
    s = make("+t:\n  sh>: main\n  _check: {sh>: check}\n+u: {sh>: u}\n")
    assert run_all(s) == [["+wf+t"], ["+wf+t^check"], ["+wf+u"]]


def test_generated_children_and_check_wait_for_sub():
    s = make("+l:\n  loop>: 2\n  _do: {sh>: x}\n  _check: {sh>: c}\n+n: {sh>: n}\n")
    s.start()
    (loop,) = s.pop_ready()
    s.mark_running(loop)
    sub = Compiler(OPS).compile_task("^sub", {"+loop-0": {"sh>": "x"}, "+loop-1": {"sh>": "x"}})
    s.succeed(loop, TaskResult(sub_spec=sub))
    order = []
    while not s.done:
        for t in s.pop_ready():
            order.append(t.full_name)
            s.mark_running(t)
            s.succeed(t, TaskResult())
    assert order == ["+wf+l^sub+loop-0", "+wf+l^sub+loop-1", "+wf+l^check", "+wf+n"]


def test_too_many_tasks_fails_the_generating_task():
    s = make("+l:\n  loop>: 2\n  _do: {sh>: x}\n", max_tasks=3)
    s.start()
    (loop,) = s.pop_ready()
    s.mark_running(loop)
    sub = Compiler(OPS).compile_task("^sub", {f"+loop-{i}": {"sh>": "x"} for i in range(5)})
    s.succeed(loop, TaskResult(sub_spec=sub))
    assert loop.state is TaskState.ERROR
    assert "Too many tasks" in loop.error["message"]


def test_too_many_static_tasks_refused():
    try:
        make("".join(f"+t{i}: {{sh>: x}}\n" for i in range(5)), max_tasks=3)
    except TooManyTasks as e:
        assert "Limit: 3" in str(e)
    else:
        raise AssertionError("expected TooManyTasks")


def test_store_visibility_marks():
    s = make("+a: {sh>: a}\n+b: {sh>: b}\n")
    s.start()
    (a,) = s.pop_ready()
    s.mark_running(a)
    s.succeed(a, TaskResult(store={"k": 1}))
    assert a.has_store and s.root.store_children == 1


def test_a_failed_root_gets_the_failure_alert_beside_its_error_handler():
    from dockerflow.graph.spec import TaskSpec

    root = Compiler(OPS, "wf.dig").compile_workflow_root(
        "wf", load_text("+a: {sh>: a}\n_error:\n  +tell: {sh>: t}\n", "wf.dig"))
    alert = TaskSpec("^failure-alert", op="notify", config={"_command": "failed"})
    s = Scheduler(root, clock=Clock(), failure_alert=alert)
    rounds = run_all(s, fail={"+wf+a"})
    assert rounds == [["+wf+a"], ["+wf^error+tell", "+wf^failure-alert"]]
    assert s.root.state is TaskState.GROUP_ERROR
    # an alert that fails leaves the attempt failed, and a success adds none
    s = Scheduler(root, clock=Clock(), failure_alert=alert)
    assert run_all(s, fail={"+wf+a", "+wf^failure-alert"})[-1] == ["+wf^error+tell", "+wf^failure-alert"]
    assert s.root.state is TaskState.GROUP_ERROR
    s = Scheduler(root, clock=Clock(), failure_alert=alert)
    assert run_all(s) == [["+wf+a"]] and s.success


def test_tasks_added_to_a_running_root_start_at_once_and_join_it():
    from dockerflow.graph.spec import TaskSpec

    s = make("+a: {sh>: a}\n+b: {sh>: b}\n")
    s.start()
    [a] = s.pop_ready()
    s.mark_running(a)
    added = s.add_to_root([(TaskSpec("^sla^alert", op="notify"), "^sla^alert"),
                           (TaskSpec("^sla^fail", op="fail"), "^sla^fail")])
    assert names(added) == ["+wf^sla^alert", "+wf^sla^fail"]
    assert names(s.pop_ready()) == ["+wf^sla^alert", "+wf^sla^fail"]
    for t in added:
        s.mark_running(t)
    s.succeed(added[0], TaskResult())
    s.fail(added[1], {"message": "SLA violation"})
    s.succeed(a, TaskResult())
    [b] = s.pop_ready()  # the root's own tasks go on
    s.mark_running(b)
    s.succeed(b, TaskResult())
    assert s.done and not s.success
    assert s.add_to_root([(TaskSpec("^late", op="echo"), "^late")]) == []  # done: nothing added
