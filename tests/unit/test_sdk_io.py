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
    path.write_text("+a:\n  sh>: echo a\n+b:\n  nosuchop>: x\n  _after: +a\n")
    with pytest.raises(DigError) as engine:
        load_workflow(path, unknown_operators="allow")
    with pytest.raises(DigError) as sdk:
        read_dig(path)
    assert str(sdk.value) == str(engine.value)
    assert (sdk.value.file, sdk.value.line) == ("main.dig", 5)
    assert "_after" in sdk.value.message


# A workflow of operators dockerflow does not run (Treasure Data, PostgreSQL, BigQuery, S3,
# a plugin), written in the SDK's canonical form, so reading and writing it gives it back.
DIGDAG_ONLY = """\
timezone: Asia/Tokyo

schedule:
  daily>: '07:00:00'

_export:
  td:
    database: analytics
  plugin:
    repositories: ['https://jitpack.io']
    dependencies: ['com.github.example:digdag-plugin-example:v0.1.3']

+load:
  td>: queries/load.sql
  create_table: daily_load
  engine: presto
  _retry: 2

+copy:
  pg>: queries/select.sql
  host: db.example.com
  database: app
  store_last_results: true
  _error:
    echo>: 'pg failed: ${error.message}'

+report:
  bq>: queries/report.sql
  destination_table: reports.daily
  write_disposition: WRITE_TRUNCATE

+wait_file:
  s3_wait>: my-bucket/input/${session_date}.csv
  timeout: '1h'

+each_user:
  td_for_each>: queries/users.sql
  _parallel: true
  _do:
    td>: queries/per_user.sql
    database: ${td.each.db}

+plugin:
  example>: hello
  path: out/
  options:
    level: 3
    tags: [a, b]
  _do:
    +inner:
      example_step>: world
      _retry:
        limit: 2
        interval: 10
  _error:
    sh>: echo plugin failed
"""


def test_read_dig_keeps_operators_we_do_not_run(tmp_path: Path) -> None:
    path = tmp_path / "main.dig"
    path.write_text(DIGDAG_ONLY)
    wf = read_dig(path)  # validated by the engine, which accepts any operator name here
    assert [t.type for t in wf.tasks] == [  # type: ignore[union-attr]
        "td", "pg", "bq", "s3_wait", "td_for_each", "example"]
    assert all(isinstance(t, Operator) for t in wf.tasks)
    plugin = wf.tasks[-1]
    assert isinstance(plugin, Operator)
    assert (plugin.command, plugin.options) == ("hello", {"path": "out/", "options": {
        "level": 3, "tags": ["a", "b"]}})
    assert isinstance(plugin.do, Group) and isinstance(plugin.error, Sh)
    inner = plugin.do.tasks[0]
    assert isinstance(inner, Operator) and (inner.type, inner.retry) == (
        "example_step", Retry(limit=2, interval=10))
    assert wf.tasks[4].parallel is True  # type: ignore[union-attr]
    assert to_dig(wf) == DIGDAG_ONLY  # byte for byte
    assert to_dig(read_dig(path)) == to_dig(wf)


def test_check_and_run_still_refuse_operators_we_do_not_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    from dockerflow.dig.workflow import load_workflow

    path = tmp_path / "main.dig"
    path.write_text(DIGDAG_ONLY)
    with pytest.raises(DigError) as engine:
        load_workflow(path)
    assert (engine.value.file, engine.value.line) == ("main.dig", 14)
    assert "Unknown operator 'td>' in task +load" in engine.value.message
    for command in ("check", "run"):
        done = subprocess.run([sys.executable, "-m", "dockerflow", command, "main.dig"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "main.dig:14: Unknown operator 'td>' in task +load" in done.stderr, command


@pytest.mark.parametrize("text,line,words", [
    ("+a:\n  td>: q.sql\n  _retyr: 2\n", 3, "unknown key '_retyr'"),
    ("+a:\n  td>: q.sql\n  pg>: x.sql\n", 3, "more than one operator"),
    ("+a:\n  td>: q.sql\n  +b:\n    echo>: x\n", 3, "can't have subtasks"),
    ("+a:\n  bq>: q.sql\n  _retry:\n    limit: x\n", 3, "_retry"),
    ("+a:\n  s3_wait>: b/k\n  docker:\n    imag: x\n", 4, "unknown docker option"),
    ("+g:\n  +a:\n    td>: q.sql\n  +b:\n    td>: r.sql\n    _after: +a\n", 6, "_after"),
    ("schedule:\n  daily>: '7 am'\n+a:\n  td>: q.sql\n", 2, "daily"),
    ("foo: 1\n+a:\n  td>: q.sql\n", 1, "unknown keys"),
    ("+a:\n  td>: q.sql\n+b:\n  call>: missing.dig\n", 4, "does not exist"),
])
def test_read_dig_checks_everything_but_the_operator_name(tmp_path: Path, text: str, line: int,
                                                          words: str) -> None:
    from dockerflow.dig.workflow import load_workflow

    path = tmp_path / "main.dig"
    path.write_text(text)
    with pytest.raises(DigError) as sdk:
        read_dig(path)
    assert (sdk.value.file, sdk.value.line) == ("main.dig", line)
    assert words in sdk.value.message
    with pytest.raises(DigError) as engine:
        load_workflow(path, unknown_operators="allow")
    assert str(sdk.value) == str(engine.value)


def test_read_dig_reads_called_files_with_any_operator(tmp_path: Path) -> None:
    (tmp_path / "main.dig").write_text("+a:\n  call>: sub\n")
    (tmp_path / "sub.dig").write_text("+q:\n  td>: q.sql\n")
    assert read_dig(tmp_path / "main.dig").tasks[0].workflow == "sub"  # type: ignore[union-attr]
    (tmp_path / "sub.dig").write_text("+q:\n  td>: q.sql\n  _retyr: 1\n")
    with pytest.raises(DigError) as e:
        read_dig(tmp_path / "main.dig")
    assert (e.value.file, e.value.line) == ("sub.dig", 3)


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
