"""Writing and reading `.dig` text: layout, quoting, includes, errors, no mutation."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerflow.errors import DigError
from dockerflow.sdk import (
    Cron,
    Daily,
    Docker,
    Echo,
    ForEach,
    Group,
    Loop,
    Operator,
    Retry,
    Sh,
    Workflow,
    parse_dig,
    read_dig,
    to_dig,
)


def test_layout_and_quoting() -> None:
    wf = Workflow(
        name="w", timezone="UTC", schedule=Cron("* * * * *", skip_delayed_by="1h"),
        export={"x": "0.5", "y": "yes", "z": "10:30:00"},
        tasks=[Sh(name="a", command="echo a: b # c", retry=2),
               Group(name="g", parallel=True, tasks=[Echo(name="x", message="*hi*")])],
        error=Sh(command="echo failed"))
    assert to_dig(wf) == """\
timezone: UTC

schedule:
  cron>: '* * * * *'
  skip_delayed_by: '1h'

_export:
  x: '0.5'
  'y': 'yes'
  z: '10:30:00'

_error:
  sh>: echo failed

+a:
  sh>: 'echo a: b # c'
  _retry: 2

+g:
  _parallel: true
  +x:
    echo>: '*hi*'
"""


def test_key_order_is_canonical() -> None:
    a = Sh(name="a", command="c", retry=Retry(limit=2, interval=5), export={"k": 1},
           background=True, options={"FOO": "x"}, error=Echo(message="e"))
    b = Sh(error=Echo(message="e"), options={"FOO": "x"}, background=True, export={"k": 1},
           retry=Retry(interval=5, limit=2), command="c", name="a")
    text = to_dig(Workflow(name="w", tasks=[a]))
    assert text == to_dig(Workflow(name="w", tasks=[b]))
    assert text == """\
+a:
  sh>: c
  FOO: x
  _background: true
  _retry:
    limit: 2
    interval: 5
  _export:
    k: 1
  _error:
    echo>: e
"""


def test_writing_is_deterministic_and_does_not_change_models() -> None:
    wf = Workflow(name="w", export={"docker": Docker(image="i")},
                  tasks=[Loop(name="l", count=3, do=Sh(command="echo ${i}"))])
    before = wf.model_dump()
    assert to_dig(wf) == to_dig(wf)
    assert wf.model_dump() == before


def test_generic_operators_are_kept() -> None:
    text = "+q:\n  td>: q.sql\n  database: db\n  _retry: 1\n"
    wf = parse_dig(text, "w")
    task = wf.tasks[0]
    assert isinstance(task, Operator)
    assert (task.type, task.command, task.options, task.retry) == ("td", "q.sql",
                                                                   {"database": "db"}, 1)
    assert to_dig(wf) == text


def test_type_and_command_form_is_read_as_the_operator_key() -> None:
    wf = parse_dig("+a:\n  _type: sh\n  _command: echo hi\n", "w")
    assert wf.tasks[0] == Sh(name="a", command="echo hi")
    wf = parse_dig("+a:\n  _type: ${op}\n  _command: x\n", "w")
    assert to_dig(wf) == "+a:\n  _type: ${op}\n  _command: x\n"


def test_data_a_typed_model_cannot_hold_stays_generic() -> None:
    wf = parse_dig("+a:\n  sh>: 123\n+b:\n  loop>: 3\n", "w")
    assert [type(t).__name__ for t in wf.tasks] == ["Operator", "Operator"]
    assert to_dig(wf) == "+a:\n  sh>: 123\n\n+b:\n  loop>: 3\n"


def test_typed_option_written_as_null_stays_an_option() -> None:
    wf = parse_dig("+a:\n  sh>: x\n  shell:\n", "w")
    assert wf.tasks[0].options == {"shell": None}
    assert parse_dig(to_dig(wf), "w") == wf


def test_at_form_of_schedules() -> None:
    wf = parse_dig("schedule:\n  daily>:\n  at: '07:00:00'\n", "w")
    assert wf.schedule == Daily("07:00:00")


def test_includes_are_inlined(tmp_path: Path) -> None:
    (tmp_path / "part.yml").write_text("+p1:\n  sh>: echo p1\n")
    (tmp_path / "main.dig").write_text("+a:\n  !include : part.yml\n+b:\n  echo>: b\n")
    wf = read_dig(tmp_path / "main.dig", validate=False)
    assert to_dig(wf) == "+a:\n  +p1:\n    sh>: echo p1\n\n+b:\n  echo>: b\n"


def test_read_dig_names_the_workflow_after_the_file(tmp_path: Path) -> None:
    (tmp_path / "my_flow.dig").write_text("+a:\n  echo>: hi\n")
    assert read_dig(tmp_path / "my_flow.dig").name == "my_flow"


def test_read_dig_raises_the_engines_errors(tmp_path: Path) -> None:
    from dockerflow.dig.workflow import load_workflow

    path = tmp_path / "main.dig"
    path.write_text("+a:\n  sh>: echo a\n+b:\n  nosuchop>: x\n")
    with pytest.raises(DigError) as engine:
        load_workflow(path)
    with pytest.raises(DigError) as sdk:
        read_dig(path)
    assert str(sdk.value) == str(engine.value)
    assert (sdk.value.file, sdk.value.line) == ("main.dig", 4)
    # without the engine's check, the unknown operator is kept
    assert read_dig(path, validate=False).tasks[1].type == "nosuchop"  # type: ignore[union-attr]


@pytest.mark.parametrize("text,line,words", [
    ("+a:\n  sh>: x\n  echo>: y\n", 3, "more than one operator"),
    ("+a:\n  sh>: x\n  +b:\n    echo>: y\n", 3, "can't have subtasks"),
    ("foo: 1\n", 1, "unknown keys"),
    ("+g:\n  parallel: true\n", 2, "invalid keys"),
    ("+g:\n  _parallel: tru\n", 2, "_parallel"),
    ("schedule:\n  hourly>: '10:11:12'\n", 2, "MM:SS"),
    ("+a:\n  sh>: x\n+a:\n  sh>: y\n", 3, "duplicate key"),
])
def test_reader_errors_have_positions(text: str, line: int, words: str) -> None:
    with pytest.raises(DigError) as e:
        parse_dig(text, "w", file="w.dig")
    assert (e.value.file, e.value.line) == ("w.dig", line)
    assert words in str(e.value)


def test_for_each_round_trip_text() -> None:
    text = ("+f:\n  for_each>:\n    fruit: [apple, orange]\n    verb: [eat, throw]\n"
            "  _parallel: true\n  _do:\n    sh>: echo \"${verb} ${fruit}\" >> out.txt\n")
    wf = parse_dig(text, "w")
    assert isinstance(wf.tasks[0], ForEach)
    assert to_dig(wf) == text
