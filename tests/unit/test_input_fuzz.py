"""Random input never crashes the loader or the compiler: it loads, or it is refused with a
DigError (one line, file:line where known). Anything else escaping is a bug."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockerflow.dig.workflow import check_task_count, compile_workflow, load_workflow
from dockerflow.dig.yaml_loader import load_text
from dockerflow.errors import DigError
from dockerflow.operators import OPERATOR_OPTIONS

# Words the language gives meaning to, so that random trees hit the real code paths.
OPERATOR_KEYS = [f"{name}>" for name in sorted(OPERATOR_OPTIONS)] + ["nope>", "_type"]
DIRECTIVES = ["_parallel", "_background", "_after", "_retry", "_error", "_check", "_export",
              "_env", "_secrets", "_disable", "_do", "_else_do", "timezone", "schedule", "sla",
              "docker", "count", "limit", "interval", "image", "memory", "run_options", "from",
              "to", "step", "slices", "_command", "daily>", "cron>", "time", "duration"]
TASK_NAMES = ["+a", "+b", "+c", "+a b", "+1", "+^x"]
NAMES = st.one_of(*[st.sampled_from(TASK_NAMES[:3])] * 5,
                  st.sampled_from(TASK_NAMES))
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**7), st.floats(allow_nan=True),
    st.sampled_from(["", "x", "${x}", "${", "0.5", "yes", "10:30:00", "[1, 2]", '{"a": [1]}',
                     "UTC", "Asia/Tokyo", "07:00:00", "1g", "-m 5x", "main.dig", "a"]),
    st.text(max_size=12),
)


def _node(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(OPERATOR_KEYS + DIRECTIVES + TASK_NAMES),
                     st.text(max_size=6))
    return st.one_of(st.lists(children, max_size=4),
                     st.dictionaries(keys, children, max_size=5))


TREES = st.recursive(SCALARS, _node, max_leaves=30)

# Mostly well-formed task trees, with random values where the language takes values.
DOCKER = st.dictionaries(
    st.sampled_from(["image", "imagee", "memory", "cpus", "run_options", "build", "pull",
                     "timeout", "user", "env", "network", "init", "selinux", "pull_always"]),
    st.one_of(SCALARS, st.lists(SCALARS, max_size=3)), max_size=3)
VALUES = st.one_of(SCALARS, TREES, DOCKER)
DIRECTIVE_VALUES = st.fixed_dictionaries({}, optional={
    "_parallel": st.one_of(st.booleans(), st.just({"limit": 2}), SCALARS, TREES),
    "_retry": st.one_of(st.integers(-1, 3), st.just({"limit": 2, "interval": 1}), SCALARS),
    "_background": st.one_of(st.booleans(), SCALARS),
    "_after": st.one_of(st.sampled_from(["+a", "+b", "+zz"]), st.lists(SCALARS, max_size=2)),
    "_export": st.one_of(st.dictionaries(st.sampled_from(["docker", "n", "x", "mail"]), VALUES,
                                         max_size=2), SCALARS),
    "_env": st.one_of(st.dictionaries(st.text(max_size=4), SCALARS, max_size=2), SCALARS),
    "_secrets": VALUES, "_disable": st.one_of(st.booleans(), SCALARS),
})
ARGUMENTS = {
    "loop>": st.one_of(st.integers(-2, 300), SCALARS),
    "for_each>": st.one_of(st.dictionaries(st.sampled_from(["a", "b"]),
                                           st.one_of(st.lists(SCALARS, max_size=4), SCALARS),
                                           max_size=2), SCALARS, TREES),
    "for_range>": st.one_of(st.fixed_dictionaries({}, optional={
        k: st.one_of(st.integers(-5, 500), SCALARS) for k in ("from", "to", "step", "slices")}),
        SCALARS),
}


def _tasks(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    def operator(op: str) -> st.SearchStrategy[Any]:
        arg = ARGUMENTS.get(op, VALUES)
        body = st.fixed_dictionaries({}, optional={"_do": children, "_else_do": children,
                                                   "docker": DOCKER, "count": SCALARS,
                                                   "_error": children})
        return st.builds(lambda a, b, d: {op: a, **b, **d}, arg, body, DIRECTIVE_VALUES)

    group = st.builds(lambda kids, d: {**kids, **d},
                      st.dictionaries(NAMES, children, max_size=3),
                      DIRECTIVE_VALUES)
    return st.one_of(group, st.sampled_from(OPERATOR_KEYS).flatmap(operator))


TASKS = st.recursive(st.builds(lambda m: {"echo>": m}, SCALARS), _tasks, max_leaves=12)
WORKFLOWS = st.one_of(
    st.builds(lambda kids, top: {**top, **kids}, st.dictionaries(NAMES, TASKS, max_size=3),
              st.fixed_dictionaries({}, optional={
                  "timezone": st.one_of(st.sampled_from(["UTC", "Asia/Tokyo"]), SCALARS),
                  "schedule": st.one_of(st.just({"daily>": "07:00:00"}), TREES),
                  "sla": TREES, "_export": VALUES})),
    st.dictionaries(st.sampled_from(TASK_NAMES + DIRECTIVES + OPERATOR_KEYS), TREES,
                    max_size=5),
)


def _compile(config: Any) -> None:
    if not isinstance(config, dict):
        return
    wf = compile_workflow(config, "wf", "wf.dig", OPERATOR_OPTIONS, [])
    check_task_count(wf, 1000)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(WORKFLOWS)
def test_random_task_trees_load_or_are_refused(config: dict[str, Any]) -> None:
    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    try:
        _compile(load_text(text, "wf.dig"))
    except DigError:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("+>:-_ {}[]'\"!#&*|\n\t abc12$.,?\\%@`")),
               max_size=200))
def test_random_yaml_text_loads_or_is_refused(text: str) -> None:
    try:
        _compile(load_text(text, "wf.dig"))
    except DigError:
        pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(WORKFLOWS, WORKFLOWS)
def test_random_projects_with_calls_load_or_are_refused(main: dict[str, Any],
                                                        other: dict[str, Any]) -> None:
    """Two files that may call each other (or themselves) and include each other."""
    main = {**main, "+call": {"call>": "other.dig"}}
    other = {**other, "+back": {"call>": "main"}}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "main.dig").write_text(yaml.safe_dump(main, sort_keys=False))
        (project / "other.dig").write_text(yaml.safe_dump(other, sort_keys=False)
                                           + "!include : main.dig\n")
        try:
            wf = load_workflow(project / "main.dig", project, warnings=[])
            check_task_count(wf, 1000)
        except DigError:
            pass
