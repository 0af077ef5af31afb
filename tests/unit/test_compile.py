"""Compiling configs into task specs: structure, directives, and the not-used warning."""

from __future__ import annotations

import re

import pytest

from dockerflow.dig.compile import Compiler
from dockerflow.dig.yaml_loader import load_text
from dockerflow.errors import DigError
from dockerflow.graph.spec import RetrySpec

OPTIONS = {"sh": {"shell"}, "echo": set(), "loop": {"count"}, "for_each": set(), "for_range": set()}


def compile_root(text: str) -> tuple[object, list[str]]:
    c = Compiler(OPTIONS, "wf.dig")
    return c.compile_workflow_root("wf", load_text(text, "wf.dig")), c.warnings


def test_specs_carry_directives():
    root, _ = compile_root("_export: {a: 1}\n+g:\n  _parallel: {limit: 2}\n  _retry: {limit: 2,"
                           " interval: 5, interval_type: exponential}\n  +x: {echo>: hi}\n"
                           "  _error: {echo>: oops}\n")
    g = root.children[0]
    assert root.export == {"a": 1}
    assert g.parallel is True and g.limit == 2
    assert g.retry == RetrySpec(2, 5.0, True, None)
    assert g.error.name == "^error" and g.error.op == "echo"
    assert g.children[0].config == {"_command": "hi"}


def test_type_and_command_form():
    root, _ = compile_root("+a:\n  _type: sh\n  _command: echo hi\n")
    assert root.children[0].op == "sh" and root.children[0].config["_command"] == "echo hi"


def test_disable_makes_an_empty_group():
    root, _ = compile_root("+a:\n  _disable: true\n  sh>: echo hi\n")
    assert root.children[0].is_group and root.children[0].children == ()


def test_unused_option_warns_with_did_you_mean_but_params_in_templates_do_not():
    _, warnings = compile_root("+a:\n  sh>: echo ${foo}\n  foo: bar\n  shel: [bash]\n")
    assert warnings == ["wf.dig:4: parameter 'shel' is not used by sh> at task +a"
                        " (did you mean 'shell'?); to pass it to tasks, put it under _export"]


def test_retry_expression_on_operator_is_kept_for_run_time():
    root, _ = compile_root("+a:\n  sh>: x\n  _retry: ${n}\n")
    assert root.children[0].retry == "${n}"


def test_retry_expression_on_group_is_ignored_with_a_warning():
    root, warnings = compile_root("+g:\n  _retry: ${n}\n  +a: {echo>: x}\n")
    assert root.children[0].retry is None
    assert any("ignored" in w for w in warnings)


@pytest.mark.parametrize("text,message", [
    ("+a:\n  sh>: x\n  _retyr: 3\n", "unknown key '_retyr' (did you mean '_retry'?)"),
    ("+a:\n  sh>: x\n  _env: {'1BAD': x}\n", "Invalid environment variable name '1BAD'"),
    ("+g:\n  _parallel: ${p}\n  +a: {echo>: x}\n", "group keys are not evaluated"),
    ("+p:\n  _parallel: true\n  +a: {echo>: x}\n  +b: {echo>: x, _after: [+c]}\n  +c: {echo>: x}\n",
     "defined later"),
    ("+a: 3\n", "must be a mapping"),
    ("sh>: x\n", "includes an operator"),
])
def test_refusals_name_the_problem(text: str, message: str):
    with pytest.raises(DigError, match=re.escape(message)):
        compile_root(text)


def test_literal_loops_count_the_tasks_they_will_generate():
    from dockerflow.graph.spec import static_size

    root, _ = compile_root("+l:\n  loop>: 3\n  _do:\n    +a: {echo>: x}\n    +b: {echo>: y}\n"
                           "+e:\n  for_each>: {k: [1, 2], v: '[\"a\", \"b\", \"c\"]'}\n  _do: {echo>: z}\n"
                           "+r:\n  for_range>: {from: 0, to: 10, slices: 3}\n  _do: {echo>: w}\n"
                           "+s:\n  for_range>: {from: 0, to: 10, step: 4}\n  _do: {echo>: w}\n"
                           "+x:\n  loop>: ${n}\n  _do: {echo>: v}\n")
    counts = {c.name: c.generates for c in root.children}
    # the ^sub group, then each iteration's group holding one copy of the body
    assert counts == {"+l": 1 + 3 * 3, "+e": 1 + 6, "+r": 1 + 3, "+s": 1 + 3, "+x": 0}
    assert static_size(root) == 1 + 5 + 10 + 7 + 4 + 4


@pytest.mark.parametrize("text, message", [
    ("+l:\n  loop>: -1\n  _do: {echo>: x}\n", "non-negative integer"),
    ("+e:\n  for_each>: {k: 3}\n  _do: {echo>: x}\n", "values of 'k' must be a list"),
    ("+e:\n  for_each>: 'not json'\n  _do: {echo>: x}\n", "neither a list/map nor JSON"),
    ("+r:\n  for_range>: {from: 0, to: 9}\n  _do: {echo>: x}\n", "exactly one of 'step' or 'slices'"),
    ("+r:\n  for_range>: {from: 0, to: 9, step: 0}\n  _do: {echo>: x}\n", "'step' must be at least 1"),
    ("+r:\n  for_range>: {to: 9, step: 1}\n  _do: {echo>: x}\n", "needs 'from'"),
    ("+r:\n  for_range>: {from: 0, too: 9, step: 1}\n  _do: {echo>: x}\n", "unknown key 'too'.*did you mean 'to'"),
])
def test_literal_loop_arguments_are_checked(text, message):
    with pytest.raises(DigError, match=message) as e:
        compile_root(text)
    assert e.value.file == "wf.dig" and e.value.line == 2


@pytest.mark.parametrize("text, line, message", [
    ("_export:\n  docker:\n    imagee: x\n+a: {echo>: x}\n", 3, r"unknown docker option 'imagee' \(did you mean 'image'\?\)"),
    ("+a:\n  _export:\n    docker:\n      cpus: many\n  echo>: x\n", 4, "docker.cpus"),
    ("+a:\n  docker:\n    run_options: [--frobnicate]\n  echo>: x\n", 3, "frobnicate"),
    ("+a:\n  _export:\n    docker: an-image\n  echo>: x\n", 3, "docker: must be a mapping"),
])
def test_docker_options_are_checked_where_they_are_written(text, line, message):
    with pytest.raises(DigError, match=message) as e:
        compile_root(text)
    assert e.value.line == line


def test_docker_options_with_expressions_wait_for_run_time():
    compile_root("_export:\n  docker:\n    image: ${img}\n    memory: ${mem}\n+a: {echo>: x}\n")
