"""Round trips: read(write(m)) == m for generated models, and every `.dig` file we know
(repository and conformance cases) written back loads to the same workflow."""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockerflow.errors import DigError
from dockerflow.sdk import (
    Attachment,
    Cron,
    Daily,
    Docker,
    Group,
    Hourly,
    MinutesInterval,
    Monthly,
    Operator,
    ParallelLimit,
    Retry,
    SecondsInterval,
    Sla,
    Weekly,
    Workflow,
    parse_dig,
    read_dig,
    to_dig,
)
from dockerflow.sdk.tasks import OPERATOR_MODELS

REPO = Path(__file__).resolve().parents[2]

TRICKY = ["yes", "no", "on", "0.5", "10:30:00", "* * * * *", "a: b", "a #b", "*x", "&x",
          "!x", "|x", ">x", "%x", "@x", "'x", '"x', "-", "---", "~", "null", "", " x", "1e3",
          ".inf", "2024-03-05", "a\nb", "x\n\n", "\ta", "${x}", "echo ${a} >> out.txt",
          "it's", "true", "False", "<<", "0x1F", "日本", "a,b", "[a]", "{a: 1}"]

text = st.text(max_size=16) | st.sampled_from(TRICKY)
ident = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)
expr = ident.map(lambda s: "${" + s + "}")
task_names = st.from_regex(r"[A-Za-z0-9_\-=\[\]{}%&@,.]{1,10}", fullmatch=True)
scalar = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
          | st.floats(allow_nan=False) | text)
value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(text, inner, max_size=3), max_leaves=8)
params = st.dictionaries(text, value, max_size=3)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


bool_value = st.booleans() | st.sampled_from(["true", "false"]) | expr
durations = st.sampled_from(["10s", "1m", "1h 30m", "2d", "5S"])
retry = (st.integers(0, 5) | st.sampled_from(["3", " 2 "]) | expr
         | st.builds(Retry, limit=st.integers(0, 5),
                     interval=maybe(st.integers(0, 60) | st.floats(0, 60)),
                     interval_type=maybe(st.sampled_from(["constant", "exponential"])),
                     max_interval=maybe(st.integers(0, 600))))
group_parallel = (st.booleans() | st.sampled_from(["true", "false"])
                  | st.builds(ParallelLimit, limit=st.integers(1, 5)))
loop_parallel = group_parallel | expr
docker = st.builds(Docker, image=text, pull_always=maybe(bool_value),
                   run_options=maybe(st.lists(text, max_size=2)),
                   build=maybe(st.lists(text, max_size=2)))
env = st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
                      scalar, max_size=2)


def option_keys(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    taken = set(cls.option_keys()) if cls is not Operator else set()  # type: ignore[attr-defined]
    keys = ident.filter(lambda k: k not in taken)
    return st.dictionaries(keys, value, max_size=2)


Maker = Callable[..., Any]


@st.composite
def common(draw: Any, depth: int) -> dict[str, Any]:
    """Fields every task may have (bodies one level shallower)."""
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["export"] = draw(params)
    if draw(st.integers(0, 4)) == 0:
        out["env"] = draw(env)
    if draw(st.integers(0, 5)) == 0:
        out["secrets"] = draw(st.booleans() | params)
    if draw(st.integers(0, 3)) == 0:
        out["retry"] = draw(retry)
    if draw(st.integers(0, 6)) == 0:
        out["disable"] = draw(st.booleans())
    if depth > 0:
        if draw(st.integers(0, 4)) == 0:
            out["error"] = draw(task(depth - 1))(name=None)
        if draw(st.integers(0, 5)) == 0:
            out["check"] = draw(task(depth - 1))(name=None)
    return out


def body(depth: int) -> st.SearchStrategy[Any]:
    return task(max(depth - 1, 0)).map(lambda make: make(name=None))


@st.composite
def group(draw: Any, depth: int) -> Maker:
    parallel = draw(maybe(group_parallel))
    children = draw(child_list(depth - 1, parallel)) if depth > 0 else ()
    fields = draw(common(depth))
    fields["timezone"] = draw(maybe(st.sampled_from(["UTC", "Asia/Tokyo", "+09:00"])))
    return lambda **kw: Group(parallel=parallel, tasks=children, **fields, **kw)


def _is_parallel(parallel: Any) -> bool:
    return parallel is True or parallel == "true" or isinstance(parallel, ParallelLimit)


@st.composite
def child_list(draw: Any, depth: int, parallel: Any) -> tuple[Any, ...]:
    names = draw(st.lists(task_names, max_size=3, unique=True))
    out = []
    for i, name in enumerate(names):
        extra: dict[str, Any] = {}
        if _is_parallel(parallel):
            if i and draw(st.booleans()):
                extra["after"] = draw(st.lists(st.sampled_from(names[:i]), min_size=1,
                                               max_size=2, unique=True))
        elif draw(st.integers(0, 3)) == 0:
            extra["background"] = draw(st.booleans() | st.sampled_from(["true", "false"]))
        out.append(draw(task(depth))(name=name, **extra))
    return tuple(out)


@st.composite
def operator(draw: Any, depth: int) -> Maker:
    fields = draw(common(depth))
    kind = draw(st.sampled_from(sorted(OPERATOR_MODELS) + ["generic", "generic-builtin"]))
    data: dict[str, Any] = {}
    if kind == "sh":
        data = {"command": draw(text), "shell": draw(maybe(st.lists(text, max_size=2))),
                "docker": draw(maybe(docker))}
    elif kind == "py":
        data = {"method": draw(text), "python": draw(maybe(text | st.lists(text, max_size=2))),
                "docker": draw(maybe(docker))}
    elif kind in ("echo", "fail"):
        data = {"message": draw(text)}
    elif kind == "call":
        data = {"workflow": draw(text)}
    elif kind == "require":
        data = {"workflow": draw(text), "session_time": draw(maybe(text)),
                "params": draw(maybe(params)),
                "rerun_on": draw(maybe(st.sampled_from(["none", "failed", "all"]) | expr)),
                "ignore_failure": draw(maybe(bool_value))}
        which = draw(st.sampled_from(["project_id", "project_name", None]))
        if which == "project_id":
            data["project_id"] = draw(st.integers(0, 99) | expr | st.just("7"))
        elif which == "project_name":
            data["project_name"] = draw(text)
    elif kind == "if":
        branches = draw(st.sampled_from([("do",), ("else_do",), ("do", "else_do")]))
        data = {"condition": draw(bool_value)}
        for b in branches:
            data[b] = draw(body(depth))
    elif kind in ("loop", "for_each", "for_range"):
        data = {"do": draw(body(depth)), "parallel": draw(maybe(loop_parallel))}
        if kind == "loop":
            data["count"] = draw(st.integers(0, 9) | expr | st.just("3"))
        elif kind == "for_each":
            data["items"] = draw(st.dictionaries(text, st.lists(value, max_size=2) | text,
                                                 max_size=2) | text)
        else:
            bound = st.integers(-9, 99) | expr
            data.update({"from_": draw(bound), "to": draw(bound)})
            data[draw(st.sampled_from(["step", "slices"]))] = draw(bound)
    elif kind == "wait":
        data = {"duration": draw(durations | expr), "blocking": draw(maybe(bool_value))}
        if data["blocking"] is not True:
            data["poll_interval"] = draw(maybe(durations))
    elif kind == "http":
        data = {"uri": draw(text), "method": draw(maybe(st.sampled_from(["GET", "POST"]))),
                "content": draw(value),
                "content_format": draw(maybe(st.sampled_from(["text", "json", "form"]))),
                "headers": draw(maybe(st.lists(st.dictionaries(text, text, max_size=2),
                                               max_size=2))),
                "query": draw(maybe(text | params)), "timeout": draw(maybe(st.integers(0, 99))),
                "insecure": draw(maybe(bool_value))}
    elif kind == "http_call":
        data = {"uri": draw(text), "method": draw(maybe(st.sampled_from(["GET", "POST"]))),
                "content_type_override": draw(maybe(st.sampled_from(
                    ["application/x-yaml", "application/json"]))),
                "headers": draw(maybe(st.lists(st.dictionaries(text, text, max_size=2),
                                               max_size=2))),
                "query": draw(maybe(text | params)), "insecure": draw(maybe(bool_value))}
    elif kind == "mail":
        data = {draw(st.sampled_from(["body", "data"])): draw(text),
                "subject": draw(maybe(text)),
                "to": draw(maybe(text | st.lists(text, max_size=2))),
                "from_": draw(maybe(text)), "html": draw(maybe(bool_value)),
                "attach_files": draw(maybe(st.lists(st.builds(
                    Attachment, path=text, filename=maybe(text)), max_size=2)))}
    if kind == "generic":
        op_type = draw(st.sampled_from(["td", "pg", "rb", "nosuchop", "bq_ddl", "${op}"]))
        data = {"type": op_type, "command": draw(value)}
        if draw(st.integers(0, 3)) == 0:
            data["do"] = draw(body(depth))
        cls: type = Operator
    elif kind == "generic-builtin":  # a built-in name with data its typed model can't hold
        data = {"type": "sh", "command": draw(st.integers() | st.none())}
        cls = Operator
    else:
        cls = OPERATOR_MODELS[kind]
    options = draw(option_keys(cls))
    return lambda **kw: cls(options=options, **data, **fields, **kw)


def task(depth: int) -> st.SearchStrategy[Maker]:
    if depth <= 0:
        return operator(0)
    return st.one_of(operator(depth), group(depth))


schedules = st.one_of(
    st.builds(Hourly, at=st.sampled_from(["30:00", "00:05"]),
              skip_delayed_by=maybe(durations)),
    st.builds(Daily, at=st.sampled_from(["07:00:00", "21:00:00"]),
              skip_on_overtime=maybe(st.booleans()), start=maybe(st.just("2024-01-01"))),
    st.builds(Weekly, at=st.sampled_from(["Sun,09:00:00", "3,00:00:00"])),
    st.builds(Monthly, at=st.sampled_from(["1,09:00:00"]), end=maybe(st.just("2030-12-31"))),
    st.builds(MinutesInterval, minutes=st.integers(1, 60) | st.just("15"),
              delay=maybe(st.integers(0, 60))),
    st.builds(SecondsInterval, seconds=st.integers(1, 60)),
    st.builds(Cron, expression=st.sampled_from(["* * * * *", "42 4 1 * *", "*/5 * * * 1-5"]),
              delay=maybe(st.integers(0, 9))),
)


@st.composite
def workflows(draw: Any, depth: int = 2) -> Workflow:
    parallel = draw(maybe(group_parallel))
    sla = None
    if draw(st.integers(0, 3)) == 0:
        trigger = draw(st.sampled_from(["time", "duration"]))
        sla = Sla(**{trigger: draw(st.sampled_from(["09:30", "01:00:00"]))},
                  alert=draw(maybe(st.booleans())), fail=draw(maybe(st.booleans())),
                  tasks=draw(child_list(0, None)))
    return Workflow(
        name=draw(st.from_regex(r"[a-z_][a-z0-9_\-]{0,10}", fullmatch=True)),
        timezone=draw(maybe(st.sampled_from(["UTC", "Asia/Tokyo", "+09:00"]))),
        schedule=draw(maybe(schedules)),
        sla=sla,
        export=draw(maybe(params | st.just({"docker": Docker(image="python:3")}))),
        parallel=parallel,
        retry=draw(maybe(retry)),
        error=draw(maybe(body(depth))),
        check=draw(maybe(body(depth))),
        tasks=draw(child_list(depth, parallel)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(workflows())
def test_read_of_write_is_identity(wf: Workflow) -> None:
    text = to_dig(wf)
    back = parse_dig(text, wf.name)
    assert back == wf, text
    assert to_dig(back) == text


# -- every .dig we know -------------------------------------------------------------------

def known_dig_files() -> list[str]:
    repo = [p for p in glob.glob(str(REPO / "**" / "*.dig"), recursive=True)
            if "/.venv/" not in p and "/." not in p[len(str(REPO)):]]
    return sorted(repo)  # examples, tests/bad-input and tests/conformance/cases among them


def strip_positions(spec: Any) -> Any:
    """An engine TaskSpec without file/line (and with its hooks and children stripped)."""
    return dataclasses.replace(
        spec, file=None, line=None,
        children=tuple(strip_positions(c) for c in spec.children),
        error=strip_positions(spec.error) if spec.error else None,
        check=strip_positions(spec.check) if spec.check else None)


def engine_view(path: str, unknown_operators: Literal["refuse", "allow"] = "refuse") -> Any:
    """What the engine makes of a workflow file (positions left out)."""
    from dockerflow.dig.workflow import load_workflow

    wf = load_workflow(path, unknown_operators=unknown_operators)
    return (wf.name, wf.timezone, wf.schedule, wf.sla, strip_positions(wf.root))


def rewritten_copy(path: str, text: str, tmp: Path) -> str:
    """A copy of the file's folder with the file replaced by `text`; the copy's path."""
    folder = tmp / "project"
    shutil.copytree(Path(path).parent, folder, copy_function=shutil.copyfile)
    target = folder / Path(path).name
    target.write_text(text)
    return str(target)


@pytest.fixture
def deep_recursion() -> Iterator[None]:
    """Trees hundreds of groups deep (tests/bad-input/deep_nesting) need more than Python's
    default recursion limit, as the dockerflow CLI allows (cli/main.py)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20_000))
    yield
    sys.setrecursionlimit(old)


@pytest.mark.parametrize("path", known_dig_files(), ids=lambda p: os.path.relpath(p, REPO))
def test_known_files_round_trip(path: str, tmp_path: Path, deep_recursion: None) -> None:
    try:
        original, engine_error = engine_view(path), None
    except DigError as e:
        original, engine_error = None, e
    if engine_error is not None:
        try:  # what read_dig checks: everything the engine does, but any operator is read
            engine_view(path, unknown_operators="allow")
            reader_error = None
        except DigError as e:
            reader_error = e
        if reader_error is not None:  # read_dig refuses it with the engine's own error
            with pytest.raises(DigError) as refused:
                read_dig(path)
            assert str(refused.value) == str(reader_error)
        else:  # only an operator we don't run: read_dig keeps it, check/run refuse it
            assert "Unknown operator" in engine_error.message
            assert read_dig(path) == read_dig(path, validate=False)
    try:
        wf = read_dig(path, validate=False)
    except DigError:
        assert engine_error is not None, "the SDK refuses a file the engine accepts"
        return
    text = to_dig(wf)
    assert parse_dig(text, wf.name) == wf
    assert to_dig(parse_dig(text, wf.name)) == text
    copy = rewritten_copy(path, text, tmp_path)
    if engine_error is not None:  # kept as written, so refused the same way
        with pytest.raises(DigError) as again:
            engine_view(copy)
        folder = str(Path(path).parent)
        assert again.value.message.replace(str(Path(copy).parent), folder) == \
            engine_error.message
        return
    assert engine_view(copy) == original


def test_corpus_is_not_empty() -> None:
    assert len(known_dig_files()) >= 40
