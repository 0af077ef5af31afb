"""Parameter precedence and store/export visibility (spec §3.1), without running anything."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dockerflow.cli.params import build_params, resolve_session, split_param
from dockerflow.dig.compile import Compiler
from dockerflow.dig.schedule import parse_schedule
from dockerflow.dig.yaml_loader import load_text
from dockerflow.errors import DigError, UserInputError
from dockerflow.graph.scheduler import Scheduler
from dockerflow.graph.task import TaskResult
from dockerflow.runtime.params import SessionInfo, deep_merge, visible_params

OPS = {"sh", "echo"}


def drive(text: str, stores: dict[str, dict]) -> dict[str, dict]:
    """Run every task (storing `stores[name]`); return the params each task saw when ready."""
    root = Compiler(OPS, "wf.dig").compile_workflow_root("wf", load_text(text, "wf.dig"))
    s = Scheduler(root)
    s.start()
    seen: dict[str, dict] = {}
    while not s.done:
        for t in s.pop_ready():
            seen[t.full_name] = visible_params(t, {"cli": "p", "name": "from-cli"})
            s.mark_running(t)
            s.succeed(t, TaskResult(store=stores.get(t.full_name, {})))
    return seen


def test_export_is_inherited_and_nearer_wins():
    seen = drive("_export: {name: top, color: red}\n+first: {sh>: x}\n"
                 "+g:\n  _export: {name: inner}\n  +x: {sh>: x}\n"
                 "  +y: {sh>: x, _export: {color: blue}}\n+last: {sh>: x}\n", {})
    pick = {n: (t["name"], t["color"]) for n, t in seen.items()}
    assert pick == {"+wf+first": ("top", "red"), "+wf+g+x": ("inner", "red"),
                    "+wf+g+y": ("inner", "blue"), "+wf+last": ("top", "red")}


def test_cli_param_never_overrides_export():
    seen = drive("_export: {name: exported}\n+a: {sh>: x}\n", {})
    assert seen["+wf+a"]["name"] == "exported"
    assert seen["+wf+a"]["cli"] == "p"


def test_store_reaches_later_tasks_not_earlier():
    seen = drive("+a: {sh>: x}\n+b: {sh>: x}\n+c: {sh>: x}\n", {"+wf+b": {"k": "b"}})
    assert "k" not in seen["+wf+b"]
    assert seen["+wf+c"]["k"] == "b"


def test_store_overrides_export():
    seen = drive("_export: {k: exported}\n+a: {sh>: x}\n+b: {sh>: x}\n", {"+wf+a": {"k": "stored"}})
    assert seen["+wf+b"]["k"] == "stored"


def test_parallel_branches_isolated_and_join_by_task_order():
    text = ("+prepare: {sh>: x}\n+fork:\n  _parallel: true\n"
            "  +a: {sh>: x}\n  +b: {sh>: x}\n  +c: {sh>: x}\n+join: {sh>: x}\n")
    seen = drive(text, {"+wf+prepare": {"v": "prepare"}, "+wf+fork+a": {"v": "a"},
                        "+wf+fork+b": {"v": "b"}})
    assert seen["+wf+fork+c"]["v"] == "prepare"
    assert seen["+wf+join"]["v"] == "b"


def test_after_dag_store_join():
    text = ("+dag:\n  _parallel: true\n  +a: {sh>: x}\n  +b: {sh>: x}\n"
            "  +c: {sh>: x, _after: [+a]}\n  +d: {sh>: x, _after: [+b, +c]}\n")
    seen = drive(text, {"+wf+dag+a": {"v": "a"}, "+wf+dag+b": {"v": "b"},
                        "+wf+dag+c": {"v": "c"}})
    assert seen["+wf+dag+d"]["v"] == "c"


def test_nested_store_of_group_subtree_is_visible_after_group():
    seen = drive("+g:\n  +inner: {sh>: x}\n+after: {sh>: x}\n", {"+wf+g+inner": {"deep": 1}})
    assert seen["+wf+after"]["deep"] == 1


def test_deep_merge_objects():
    assert deep_merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}) == {"a": {"x": 1, "y": 3}}


def test_split_param_commas():
    assert split_param("a=1,b=2") == [("a", "1"), ("b", "2")]
    assert split_param("a=x,y") == [("a", "x,y")]
    with pytest.raises(UserInputError):
        split_param("novalue")


def test_build_params_nesting_and_files(tmp_path):
    f = tmp_path / "p.yml"
    f.write_text("a:\n  b: from-file\n  c: kept\n")
    assert build_params(("a.b=cli", "z=1"), (str(f),)) == {"a": {"b": "cli", "c": "kept"},
                                                            "z": "1"}


def test_builtins_match_digdag_formats():
    sch = parse_schedule({"daily>": "07:00:00"}, lambda m: DigError(m))
    t = datetime(2016, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("UTC"))
    b = SessionInfo(t, "UTC", sch, session_uuid="u").builtins("+wf+t")
    assert b["session_time"] == "2016-01-02T03:04:05+00:00"
    assert b["session_date_compact"] == "20160102"
    assert b["session_local_time"] == "2016-01-02 03:04:05"
    assert b["session_tz_offset"] == "+0000"
    assert b["session_unixtime"] == 1451703845
    assert b["last_session_time"] == "2016-01-02T00:00:00+00:00"
    assert b["last_session_unixtime"] == 1451692800
    assert b["next_session_time"] == "2016-01-03T00:00:00+00:00"
    assert b["next_session_unixtime"] == 1451779200
    assert b["last_executed_session_time"] == ""
    assert b["task_name"] == "+wf+t"
    # Digdag's 23 (with a schedule), plus project_id, retry_attempt_name, last_executed_session_*
    assert len(b) == 23 + 2 + 6


def test_no_schedule_no_last_next():
    t = datetime(2024, 3, 5, tzinfo=ZoneInfo("Asia/Tokyo"))
    b = SessionInfo(t, "Asia/Tokyo", None).builtins("+wf")
    assert "last_session_time" not in b and "next_session_time" not in b
    assert b["session_time"] == "2024-03-05T00:00:00+09:00"
    assert b["session_tz_offset"] == "+0900"


def test_resolve_session_forms():
    now = datetime(2024, 3, 5, 13, 45, tzinfo=ZoneInfo("UTC"))
    assert resolve_session("daily", "UTC", None, None, now).hour == 0
    assert resolve_session("hourly", "UTC", None, None, now).hour == 13
    assert resolve_session(None, "UTC", None, "2020-01-01T00:00:00+00:00", now).year == 2020
    assert str(resolve_session("2024-01-02 03:04:05", "+09:00", None, None, now)) \
        == "2024-01-02 03:04:05+09:00"
    with pytest.raises(UserInputError):
        resolve_session("yesterday-ish", "UTC", None, None, now)
