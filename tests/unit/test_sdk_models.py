"""SDK models: validation names the field, models are frozen, canonical-form rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dockerflow.sdk import (
    Cron,
    Daily,
    Docker,
    Echo,
    ForEach,
    ForRange,
    Group,
    Hourly,
    Http,
    If,
    Loop,
    Mail,
    MinutesInterval,
    Monthly,
    Operator,
    ParallelLimit,
    Require,
    Retry,
    Sh,
    Sla,
    Wait,
    Weekly,
    Workflow,
)


def field_error(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.value.errors()}


def test_models_are_frozen() -> None:
    task = Sh(name="a", command="echo a")
    with pytest.raises(ValidationError):
        task.command = "other"  # type: ignore[misc]


def test_errors_name_the_field() -> None:
    with pytest.raises(ValidationError) as e:
        Sh(name="a", command=5)  # type: ignore[arg-type]
    assert "command" in field_error(e)
    with pytest.raises(ValidationError) as e:
        Sh(name="a", command="x", shel=["bash"])  # type: ignore[call-arg]
    assert "shel" in field_error(e)
    with pytest.raises(ValidationError) as e:
        Workflow(name="w", timezone="Mars/Olympus")
    assert "timezone" in field_error(e)
    with pytest.raises(ValidationError) as e:
        Http(name="h", uri="http://x", content_format="xml")  # type: ignore[arg-type]
    assert any(loc.startswith("content_format") for loc in field_error(e))


def test_strict_types_do_not_coerce() -> None:
    with pytest.raises(ValidationError):
        Group(name="g", background="yes")  # type: ignore[arg-type]
    assert Group(name="g", background="true").background == "true"
    with pytest.raises(ValidationError):
        Loop(name="l", count="three", do=Echo(message="x"))
    assert Loop(name="l", count="${n}", do=Echo(message="x")).count == "${n}"


@pytest.mark.parametrize("bad", ["", "a b", "a^b", "a:b", "a/b"])
def test_task_names(bad: str) -> None:
    with pytest.raises(ValidationError):
        Sh(name=bad, command="x")


def test_task_name_plus_is_optional() -> None:
    assert Sh(name="+a", command="x") == Sh(name="a", command="x")


@pytest.mark.parametrize("bad", ["", "1wf", "+wf", "wf.dig", "a/b", ".hidden", "x" * 256])
def test_workflow_names(bad: str) -> None:
    with pytest.raises(ValidationError):
        Workflow(name=bad)


def test_children_need_unique_names() -> None:
    with pytest.raises(ValidationError, match="two tasks named"):
        Group(name="g", tasks=[Echo(name="a", message="1"), Echo(name="a", message="2")])
    with pytest.raises(ValidationError, match="needs a name"):
        Workflow(name="w", tasks=[Echo(message="1")])


def test_bodies_have_no_name() -> None:
    with pytest.raises(ValidationError, match="no name"):
        Workflow(name="w", error=Sh(name="e", command="x"))
    with pytest.raises(ValidationError, match="no name"):
        Loop(name="l", count=2, do=Sh(name="e", command="x"))


def test_background_and_after_follow_the_engine() -> None:
    with pytest.raises(ValidationError, match="_background"):
        Group(name="g", parallel=True, tasks=[Echo(name="a", message="1", background=True)])
    with pytest.raises(ValidationError, match="_after needs"):
        Group(name="g", tasks=[Echo(name="a", message="1"),
                               Echo(name="b", message="2", after=["a"])])
    with pytest.raises(ValidationError, match="defined earlier"):
        Group(name="g", parallel=True, tasks=[Echo(name="a", message="1", after="b"),
                                              Echo(name="b", message="2")])
    g = Group(name="g", parallel=ParallelLimit(limit=2),
              tasks=[Echo(name="a", message="1"), Echo(name="b", message="2", after="a")])
    assert g.tasks[1].after == "+a"


def test_group_parallel_is_never_an_expression() -> None:
    with pytest.raises(ValidationError):
        Group(name="g", parallel="${p}")  # type: ignore[arg-type]
    assert Loop(name="l", count=2, parallel="${p}", do=Echo(message="x")).parallel == "${p}"


def test_operator_specific_rules() -> None:
    with pytest.raises(ValidationError, match="do and/or else_do"):
        If(name="i", condition=True)
    with pytest.raises(ValidationError, match="step and slices"):
        ForRange(name="r", from_=0, to=9, do=Echo(message="x"))
    with pytest.raises(ValidationError, match="not both"):
        Require(name="r", workflow="w", project_id=1, project_name="p")
    with pytest.raises(ValidationError, match="blocking"):
        Wait(name="w", duration="1m", blocking=True, poll_interval="5s")
    with pytest.raises(ValidationError, match="exactly one"):
        Mail(name="m")
    with pytest.raises(ValidationError):
        Wait(name="w", duration="10")  # a unit is required
    assert ForRange(name="r", **{"from": 0}, to=9, slices=3, do=Echo(message="x")).from_ == 0


def test_expressions_are_accepted_in_evaluated_fields() -> None:
    task = Http(name="h", uri="${base}/x", timeout="${t}", insecure="${i}")
    assert task.timeout == "${t}"
    assert Retry(limit="${n}").limit == "${n}"
    with pytest.raises(ValidationError):
        Retry(limit="n")


def test_options_hold_other_keys_but_not_fields() -> None:
    task = Sh(name="a", command="echo $FOO", options={"FOO": "bar", "append_file": "x"})
    assert task.options == {"FOO": "bar", "append_file": "x"}
    for key in ("_export", "_retry", "_type", "_command", "+sub", "echo>", "shell"):
        with pytest.raises(ValidationError):
            Sh(name="a", command="x", options={key: ["y"]})


def test_generic_operator_only_when_no_typed_model_fits() -> None:
    td = Operator(name="q", type="td", command="q.sql", options={"database": "db"})
    assert td.command == "q.sql"
    with pytest.raises(ValidationError, match=r"use Sh\(\.\.\.\)"):
        Operator(name="a", type="sh", command="echo a")
    assert Operator(name="a", type="sh", command=5).command == 5
    assert Operator(name="l", type="loop", command=2).do is None  # a loop without _do


def test_values_are_copied_not_shared() -> None:
    export: dict[str, Any] = {"list": [1, 2], "t": (1, 2)}
    wf = Workflow(name="w", export=export)
    export["list"].append(3)
    assert wf.export == {"list": [1, 2], "t": [1, 2]}


def test_docker_in_export_is_stored_as_its_mapping() -> None:
    wf = Workflow(name="w", export={"docker": Docker(image="python:3", build=["pip x"])})
    assert wf.export == {"docker": {"image": "python:3", "build": ["pip x"]}}
    with pytest.raises(ValidationError):
        Workflow(name="w", export={"bad": object()})


@pytest.mark.parametrize("make", [
    lambda: Hourly("10:11:12"), lambda: Daily("7:00"), lambda: Weekly("Funday,09:00:00"),
    lambda: Monthly("32,09:00:00"), lambda: MinutesInterval(0), lambda: Cron("* * *"),
    lambda: Daily("07:00:00", skip_delayed_by="1"), lambda: Daily("07:00:00", start="2024"),
])
def test_bad_schedules(make: Any) -> None:
    with pytest.raises(ValidationError):
        make()


def test_schedules_take_their_value_positionally() -> None:
    assert Daily("07:00:00") == Daily(at="07:00:00")
    assert Cron("*/5 * * * *").value == "*/5 * * * *"
    assert MinutesInterval(15, delay=30).minutes == 15


def test_sla_needs_one_trigger() -> None:
    with pytest.raises(ValidationError):
        Sla()
    with pytest.raises(ValidationError):
        Sla(time="09:00", duration="01:00")
    assert Sla(duration="01:00:00", fail=True).fail is True


def test_for_each_items() -> None:
    task = ForEach(name="f", items={"fruit": ("apple", "pear")}, do=Echo(message="${fruit}"))
    assert task.items == {"fruit": ["apple", "pear"]}
    assert ForEach(name="f", items='{"a": [1]}', do=Echo(message="x")).items == '{"a": [1]}'
