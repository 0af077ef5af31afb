"""digdag-py's README examples through dockerflow.sdk.compat, and the examples/sdk project."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from dockerflow.sdk import Cron, Daily, Group, Sh, Workflow, compat, parse_dig, read_dig, to_dig
from dockerflow.sdk.compat import (
    CommandTask,
    CompatError,
    CRONSchedule,
    DependentWorkflow,
    EmbeddedTask,
    ErrorTask,
    IntervalRetryCondition,
    NamedTask,
    ParallelTask,
    ParallelTaskConfiguration,
    RepeatableTask,
    WorkflowSchedule,
    export_workflow,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sdk"


def test_readme_basic_example() -> None:
    # the README's code, with only the import lines changed
    from dockerflow.sdk.compat import CommandTask, Workflow, export_workflow

    workflow = Workflow(
        name="task-to-be-executed",
        tasks=[
            CommandTask(
                name="print-hello",
                command="echo hello",
            )
        ]
    )

    dig_content: str = export_workflow(
        workflow,
    )
    assert dig_content == "timezone: UTC\n\n+print-hello:\n  sh>: echo hello\n"


def complex_example() -> Any:
    return runpy.run_path(str(EXAMPLES / "digdag_py_example.py"))["project"]


def test_readme_complex_example_generates_three_workflows() -> None:
    project = complex_example()
    names = [w.name for w in project.workflows]
    assert names == ["process-task-first_task", "process-task-second_special_task",
                     "process-task-third_task"]
    wfs = {w.name: compat.to_sdk(w) for w in project.workflows}
    first = wfs["process-task-first_task"]
    assert first.schedule == Daily("20:00:00", skip_on_overtime=True, skip_delayed_by="1s")
    assert wfs["process-task-third_task"].schedule.at == "22:00:00"  # type: ignore[union-attr]
    assert [t.name for t in first.tasks] == ["lock-deployment", "create", "upload",
                                             "unlock-deployment"]
    assert first.error == Sh(command="python main.py unlock-deployment first_task")
    special = wfs["process-task-second_special_task"]
    upload = special.tasks[2]
    assert isinstance(upload, Group) and [t.name for t in upload.tasks] == ["int", "stg",
                                                                            "prod"]
    assert [t.name for t in upload.tasks[0].tasks] == ["upload",  # type: ignore[union-attr]
                                                       "implicit-special-task"]


def test_complex_example_text_is_valid_for_the_engine(tmp_path: Path) -> None:
    from dockerflow.dig.workflow import load_workflow

    project = complex_example()
    project.write(tmp_path)
    for wf in project.workflows:
        path = tmp_path / f"{wf.name}.dig"
        load_workflow(path)  # raises DigError if the engine refuses it
        assert read_dig(path) == compat.to_sdk(wf)
        assert path.read_text() == export_workflow(wf)


def test_exporting_does_not_change_the_models() -> None:
    wf = compat.Workflow(name="w", tasks=[CommandTask(name="a", command="x")],
                         error=ErrorTask(command="echo e"))
    before = wf.model_dump()
    export_workflow(wf)
    assert wf.model_dump() == before and wf.error is not None and wf.error.name == "_error"


def test_cron_and_skip_delayed_by() -> None:
    sched = WorkflowSchedule(cron=CRONSchedule(minutes="*/5"), skip_delayed_by=0,
                             skip_on_overtime=False)
    wf = compat.to_sdk(compat.Workflow(name="w", schedule=sched))
    assert wf.schedule == Cron("*/5 * * * *", skip_on_overtime=False)
    text = export_workflow(compat.Workflow(name="w", schedule=sched))
    assert "cron>: '*/5 * * * *'" in text  # digdag-py wrote it unquoted: a YAML alias error
    sched = WorkflowSchedule(daily="07:00:00", skip_delayed_by="1h")
    assert compat.to_sdk(compat.Workflow(name="w", schedule=sched)).schedule == Daily(
        "07:00:00", skip_on_overtime=True, skip_delayed_by="1h")


def test_other_digdag_py_task_kinds() -> None:
    wf = compat.Workflow(name="w", exports={"k": "v"}, tasks=[
        ParallelTask(name="p", configuration=ParallelTaskConfiguration(limit=2),
                     tasks=[CommandTask(name="a", command="x", continue_on_failure=True)]),
        RepeatableTask(iterables={"n": [1, 2]},
                       configuration=ParallelTaskConfiguration(parallel=True),
                       tasks=[CommandTask(name="e", command="echo ${n}")]),
        DependentWorkflow(name="r", workflow="other", project="proj"),
        EmbeddedTask(name="c", workflow="sub",
                     retry_condition=IntervalRetryCondition(limit=2, interval=5)),
    ])
    text = export_workflow(wf)
    assert parse_dig(text, "w") == compat.to_sdk(wf)
    assert text == """\
timezone: UTC

_export:
  k: v

+p:
  _parallel:
    limit: 2
  +a:
    sh>: 'x || :'

+repeat:
  for_each>:
    'n': [1, 2]
  _parallel: true
  _do:
    +e:
      sh>: echo ${n}

+r:
  require>: other
  project_name: proj

+c:
  call>: sub.dig
  _retry:
    limit: 2
    interval: 5
    interval_type: constant
"""


def test_unsupported_shapes_are_refused_clearly() -> None:
    bad = compat.Workflow(name="w", tasks=[CommandTask(name="a", command="x",
                                                       tasks=[NamedTask(name="b")])])
    with pytest.raises(CompatError, match="cannot have tasks"):
        export_workflow(bad)
    with pytest.raises(CompatError, match="daily or cron"):
        export_workflow(compat.Workflow(name="w", schedule=WorkflowSchedule()))


def test_add_task_appends_and_returns_the_task() -> None:
    group = NamedTask(name="g")
    assert group.add_task(CommandTask(name="a", command="x")) is group
    assert [t.name for t in group.tasks] == ["a"]


# -- examples/sdk/generate.py --------------------------------------------------------------

def test_generate_example_matches_the_checked_in_files(tmp_path: Path) -> None:
    generate = runpy.run_path(str(EXAMPLES / "generate.py"))
    assert generate["main"]([str(tmp_path), "--archive", str(tmp_path / "feeds.tgz")]) == 0
    written = sorted(p.name for p in tmp_path.glob("*.dig"))
    assert written == ["all_feeds.dig", "ingest_customers.dig", "ingest_inventory.dig",
                       "ingest_orders.dig"]
    for name in written:
        assert (tmp_path / name).read_text() == (EXAMPLES / "generated" / name).read_text()
        wf = read_dig(tmp_path / name)
        assert isinstance(wf, Workflow) and to_dig(wf) == (tmp_path / name).read_text()
    # a second run leaves everything as it is
    assert generate["main"]([str(tmp_path)]) == 0
