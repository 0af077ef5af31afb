"""The reporter's listeners, the task recorder and the JUnit report (runtime/junit.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from junit_check import check_report

from dockerflow.dig.workflow import load_workflow
from dockerflow.graph.scheduler import Scheduler
from dockerflow.runtime import junit
from dockerflow.runtime.records import Recorder
from dockerflow.runtime.reporter import Reporter


def reporter_with_recorder(tmp_path: Path, quiet: bool = False) -> tuple[Reporter, Recorder]:
    reporter = Reporter(out=io.StringIO(), err=io.StringIO(), quiet=quiet)
    recorder = Recorder(root_name="+wf")
    reporter.listeners.append(recorder)
    return reporter, recorder


def report(recorder: Recorder, **kw: Any) -> str:
    tails = {r.name: list(r.tail) for r in recorder.all() if r.tail}
    return junit.render(junit.cases(recorder.all(), "wf", tails, **kw), "wf", 1_700_000_000.0,
                        1.5, {"session_time": "2024-03-05T00:00:00+00:00"})


def test_listeners_hear_every_event_and_may_lack_some(tmp_path: Path) -> None:
    calls: list[tuple[Any, ...]] = []

    class All:
        def __getattr__(self, event: str) -> Any:
            if not event.startswith("task_"):
                raise AttributeError(event)
            return lambda *args: calls.append((event, *args))

    reporter = Reporter(out=io.StringIO(), err=io.StringIO())
    reporter.listeners += [All(), object()]  # a listener without the methods is skipped
    reporter.task_started("+wf+a")
    reporter.task_output("+wf+a", "hi")
    reporter.task_finished("+wf+a")
    reporter.task_succeeded("+wf+a")
    reporter.task_skipped("+wf+b", "succeeded before")
    reporter.task_cached("+wf+c")
    reporter.task_retrying("+wf+d", "boom", 1, 2, 0.5)
    reporter.task_failed("+wf+d", "boom")
    assert [c[0] for c in calls] == ["task_started", "task_output", "task_finished",
                                     "task_succeeded", "task_skipped", "task_cached",
                                     "task_retrying", "task_failed"]
    assert calls[1] == ("task_output", "+wf+a", "hi")
    assert calls[6] == ("task_retrying", "+wf+d", "boom", 1, 2, 0.5)


def test_quiet_hides_task_lines(tmp_path: Path) -> None:
    reporter, _ = reporter_with_recorder(tmp_path, quiet=True)
    reporter.task_started("+wf+a")
    reporter.task_output("+wf+a", "secret-ish line")
    reporter.task_finished("+wf+a")
    reporter.task_failed("+wf+a", "Command failed with code 1")
    out, err = reporter.out.getvalue(), reporter.err.getvalue()  # type: ignore[attr-defined]
    assert out == ""
    assert "[+wf+a] failed: Command failed with code 1" in err


def test_report_has_a_case_per_task_with_outcomes_times_and_tails(tmp_path: Path) -> None:
    reporter, recorder = reporter_with_recorder(tmp_path)
    reporter.task_started("+wf+ok")
    reporter.task_output("+wf+ok", "fine")
    reporter.task_finished("+wf+ok")
    reporter.task_succeeded("+wf+ok")
    reporter.task_skipped("+wf+old", "succeeded before")
    reporter.task_skipped("+wf+other", "outside the selected tasks")
    reporter.task_cached("+wf+c")
    reporter.task_finished("+wf+c")
    reporter.task_succeeded("+wf+c")
    reporter.task_output("+wf+echo", "inline")  # echo> prints without a start event
    reporter.task_finished("+wf+echo")
    reporter.task_succeeded("+wf+echo")
    reporter.task_started("+wf+flaky")
    reporter.task_finished("+wf+flaky")
    reporter.task_retrying("+wf+flaky", "first try failed", 1, 3, 0)
    reporter.task_started("+wf+flaky")
    reporter.task_finished("+wf+flaky")
    reporter.task_succeeded("+wf+flaky")
    reporter.task_started("+wf+bad")
    for i in range(80):
        reporter.task_output("+wf+bad", f"line {i}")
    reporter.task_finished("+wf+bad")
    reporter.task_failed("+wf+bad", "Command failed with code 3\nsecond line")
    reporter.task_started("+wf+engine")
    reporter.task_finished("+wf+engine")
    reporter.task_failed("+wf+engine", "the Docker engine is unavailable")
    reporter.task_started("+wf+slow")  # still running when the run was stopped
    reporter.task_output("+wf+slow", "halfway")
    reporter.task_started("+child+x")  # a require>d workflow's task
    reporter.task_finished("+child+x")
    reporter.task_succeeded("+child+x")
    text = report(recorder, interrupted="SIGINT", engine_unavailable=["+wf+engine"],
                  not_run=[("+wf+ok", None), ("+wf+later", None), ("+wf+broken", "bad _do")])
    cases = check_report(text)
    assert list(cases) == ["+wf+ok", "+wf+old", "+wf+other", "+wf+c", "+wf+echo", "+wf+flaky",
                           "+wf+bad", "+wf+engine", "+wf+slow", "+child+x", "+wf+later",
                           "+wf+broken"]
    kinds = {name: kind for name, (kind, _, _) in cases.items()}
    assert kinds == {"+wf+ok": "passed", "+wf+old": "skipped", "+wf+other": "skipped",
                     "+wf+c": "skipped", "+wf+echo": "passed", "+wf+flaky": "passed",
                     "+wf+bad": "failure", "+wf+engine": "error", "+wf+slow": "error",
                     "+child+x": "passed", "+wf+later": "skipped", "+wf+broken": "failure"}
    assert cases["+wf+old"][2].get("message") == "succeeded before"  # type: ignore[union-attr]
    assert cases["+wf+c"][2].get("message") == "cached"  # type: ignore[union-attr]
    assert cases["+wf+later"][2].get("message") == "not run: stopped by SIGINT"  # type: ignore[union-attr]
    _, case, failure = cases["+wf+bad"]
    assert case.get("classname") == "wf" and float(case.get("time") or -1) >= 0
    assert failure is not None and failure.get("message") == "Command failed with code 3"
    assert failure.get("type") == "TaskFailure"
    body = failure.text or ""
    assert body.startswith("Command failed with code 3\nsecond line\n")
    assert "line 29\n" not in body and "line 30\n" in body and body.endswith("line 79")
    assert cases["+wf+slow"][2].get("message") == "stopped by SIGINT while running"  # type: ignore[union-attr]
    assert "halfway" in (cases["+wf+slow"][2].text or "")  # type: ignore[union-attr]
    assert cases["+child+x"][1].get("classname") == "child"
    assert recorder.records["+wf+ok"].tail is None  # a task that passed keeps no output
    assert recorder.records["+wf+flaky"].tries == 2


def test_text_is_cleaned_of_terminal_codes_and_characters_xml_refuses(tmp_path: Path) -> None:
    reporter, recorder = reporter_with_recorder(tmp_path)
    reporter.task_started("+wf+a&<b>")
    reporter.task_output("+wf+a&<b>", "\x1b[31mred\x1b[0m \x00nul \x07bell ]]> </failure> é 😀")
    reporter.task_finished("+wf+a&<b>")
    reporter.task_failed("+wf+a&<b>", 'quote " and \x1b[1mbold\x1b[0m\x0b')
    cases = check_report(report(recorder))
    failure = cases["+wf+a&<b>"][2]
    assert failure is not None and failure.get("message") == 'quote " and bold'
    assert (failure.text or "").endswith("red nul bell ]]> </failure> é 😀")


def test_an_empty_run_is_a_valid_report(tmp_path: Path) -> None:
    assert check_report(report(Recorder())) == {}


def test_tree_lists_tasks_that_never_started_even_in_unplanned_groups(tmp_path: Path) -> None:
    (tmp_path / "wf.dig").write_text("+a:\n  sh>: exit 1\n+g:\n  +h:\n    +x:\n      echo>: x\n"
                                     "  +y:\n    echo>: y\n+z:\n  echo>: z\n")
    workflow = load_workflow(tmp_path / "wf.dig", tmp_path)
    sched = Scheduler(workflow.root)
    sched.start()
    (task,) = sched.pop_ready()
    sched.mark_running(task)
    sched.fail(task, {"message": "Command failed with code 1"}, retryable=False)
    assert list(junit.tree_tasks(sched.root)) == [
        ("+wf+a", "Command failed with code 1"), ("+wf+g+h+x", None), ("+wf+g+y", None),
        ("+wf+z", None)]


def test_write_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.xml"
    junit.write(target, "<testsuites/>\n")
    junit.write(target, "<testsuites name='x'/>\n")
    assert target.read_text() == "<testsuites name='x'/>\n"
    assert [p.name for p in target.parent.iterdir()] == ["report.xml"]


def test_a_task_that_fails_while_the_run_stops_is_an_interruption(tmp_path: Path) -> None:
    reporter, recorder = reporter_with_recorder(tmp_path)
    reporter.task_started("+wf+slow")
    reporter.task_output("+wf+slow", "working")
    stopping = True
    recorder.stopping = lambda: stopping
    reporter.task_finished("+wf+slow")
    reporter.task_failed("+wf+slow", "Command failed with code -2")  # killed by the Ctrl-C
    stopping = False
    cases = check_report(report(recorder, interrupted="SIGINT"))
    kind, _, error = cases["+wf+slow"]
    assert kind == "error" and error is not None and error.get("type") == "Interrupted"
    assert error.get("message") == "stopped by SIGINT while running"
    assert (error.text or "").startswith("stopped by SIGINT while running: Command failed")
    assert "working" in (error.text or "")
