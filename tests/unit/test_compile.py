"""Compiling configs into task specs: structure, directives, and the not-used warning."""

from __future__ import annotations

import re

import pytest

from dockerflow.dig.compile import Compiler
from dockerflow.dig.yaml_loader import load_text
from dockerflow.errors import DigError
from dockerflow.graph.spec import RetrySpec

OPTIONS = {"sh": {"shell"}, "echo": set(), "loop": {"count"}}


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
