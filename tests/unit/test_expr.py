"""`${...}` templates: parsing, JavaScript semantics, errors, limits (spec §3.3, §9 item 40)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import pytest

from dockerflow.errors import ExprError
from dockerflow.expr import Evaluator, has_template
from dockerflow.expr.template import parse

NOW = datetime(2016, 3, 13, 10, 0, 0, tzinfo=timezone.utc)

PARAMS: dict[str, Any] = {
    "timezone": "UTC",
    "a": "UTC",
    "b": "UTC",
    "nested": {"value": "v", "deep": {"x": 1}},
    "v1": [1, 2, 3, 4, 5],
    "session_time": "2016-01-02T03:04:05+00:00",
    "session_date": "2016-01-02",
    "n": 3,
    "f": 2.5,
    "whole": 2.0,
    "flag": True,
    "off": False,
    "nothing": None,
    "obj": {"k": "v", "list": [1, "two", None]},
}


@pytest.fixture(scope="module")
def ev() -> Evaluator:
    return Evaluator("UTC", NOW)


def render(ev: Evaluator, text: str, params: dict[str, Any] | None = None) -> str:
    return ev.render(text, PARAMS if params is None else params)


# -- §9 item 40: core eval ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${timezone}", "UTC"),
        ("${a}${b}", "UTCUTC"),
        ("${nested.value}", "v"),
        ("${1}", "1"),
        ("${0.2}", "0.2"),
        ('${"a"}', "a"),
        ("${[1]}", "[1]"),
        ("${undefined}", ""),
        ("${null}", ""),
        ("$", "$"),
        ("$$", "$"),
        ("p$$s", "p$s"),
        ("${", "${"),
        ("${v", "${v"),
        ("p${v", "p${v"),
        ("p${1}s", "p1s"),
        ("p${1}m$$m${2}s", "p1m$m2s"),
        ("${v1.map(function(item){return item*5})}", "[5,10,15,20,25]"),
        ("${typeof _workdir}", "undefined"),
        ("${nested.missing}", ""),
    ],
)
def test_core_eval(ev: Evaluator, text: str, expected: str) -> None:
    assert render(ev, text) == expected


def test_unknown_variable_is_a_reference_error_naming_it(ev: Evaluator) -> None:
    with pytest.raises(ExprError) as info:
        render(ev, "echo ${no_such_param_xyz}")
    message = str(info.value)
    assert message.startswith("Failed to evaluate a variable ${no_such_param_xyz} (ReferenceError")
    assert '"no_such_param_xyz" is not defined' in message


def test_deeper_access_on_missing_field_is_a_type_error(ev: Evaluator) -> None:
    with pytest.raises(ExprError) as info:
        render(ev, "${nested.missing.deeper}")
    message = str(info.value)
    assert "${nested.missing.deeper}" in message
    assert "TypeError" in message


def test_error_names_the_failing_expression_not_the_first(ev: Evaluator) -> None:
    with pytest.raises(ExprError, match=r"\$\{nope\}"):
        render(ev, "${a} then ${nope}")


def test_syntax_error(ev: Evaluator) -> None:
    with pytest.raises(ExprError, match="SyntaxError"):
        render(ev, "${1 +}")


def test_thrown_values_are_reported(ev: Evaluator) -> None:
    with pytest.raises(ExprError, match="boom"):
        render(ev, "${(function(){ throw new Error('boom') })()}")
    with pytest.raises(ExprError, match="plain"):
        render(ev, "${(function(){ throw 'plain' })()}")


def test_evaluator_still_works_after_errors(ev: Evaluator) -> None:
    with pytest.raises(ExprError):
        render(ev, "${nope}")
    assert render(ev, "${n + 1}") == "4"


# -- results as text ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${n}", "3"),
        ("${n + 1}", "4"),
        ("${f}", "2.5"),
        ("${whole}", "2"),
        ("${2.0}", "2"),
        ("${1e21}", "1e+21"),
        ("${1e-7}", "1e-7"),
        ("${0.1 + 0.2}", "0.30000000000000004"),
        ("${1/0}", "Infinity"),
        ("${0/0}", "NaN"),
        ("${flag}", "true"),
        ("${off}", "false"),
        ("${nothing}", ""),
        ("${obj}", '{"k":"v","list":[1,"two",null]}'),
        ("${nested.deep}", '{"x":1}'),
        ("${v1}", "[1,2,3,4,5]"),
        ("${{a: 1, b: [true]}}", '{"a":1,"b":[true]}'),
        ("${n > 2}", "true"),
        ("${n > 2 ? 'big' : 'small'}", "big"),
        ("${session_date.split('-')[0]}", "2016"),
        ("${JSON.stringify(obj.list)}", '[1,"two",null]'),
        ("${Math.max(1, n)}", "3"),
        ("${typeof n}", "number"),
        ("${typeof flag == 'boolean'}", "true"),
    ],
)
def test_values_become_text(ev: Evaluator, text: str, expected: str) -> None:
    assert render(ev, text) == expected


def test_python_number_types_print_like_javascript(ev: Evaluator) -> None:
    params = {"big": 2**60, "small": 1e-7, "huge": 1e22, "neg": -0.0, "tuple": (1, 2)}
    assert render(ev, "${big}", params) == "1152921504606847000"  # a double, printed as JS does
    assert render(ev, "${small}", params) == "1e-7"
    assert render(ev, "${huge}", params) == "1e+22"
    assert render(ev, "${neg}", params) == "0"
    assert render(ev, "${tuple}", params) == "[1,2]"


def test_non_json_values_are_passed_as_text(ev: Evaluator) -> None:
    params = {"when": datetime(2016, 1, 2, tzinfo=timezone.utc), "nan": float("nan")}
    assert render(ev, "${when}", params) == "2016-01-02T00:00:00+00:00"
    assert render(ev, "${nan}", params) == ""


def test_unicode_and_special_characters(ev: Evaluator) -> None:
    params = {"s": "日本語 \"quoted\" \\ back\nslash", "o": {"k": "é\u2028"}}
    assert render(ev, "${s}", params) == params["s"]
    assert render(ev, "${s.length}", params) == str(len(params["s"]))
    assert render(ev, "${o}", params) == '{"k":"é\u2028"}'


def test_template_literals_and_comments(ev: Evaluator) -> None:
    assert render(ev, "${`n=${n}`}") == "n=3"
    assert render(ev, "${n // trailing comment\n}") == "3"


# -- parsing --------------------------------------------------------------------------------

def test_nested_braces_are_counted(ev: Evaluator) -> None:
    assert render(ev, "${(function(){ if (n) { return {x: 1}.x } })()}!") == "1!"
    assert render(ev, "${ {a: {b: 2}}.a.b }") == "2"


def test_braces_inside_string_literals_do_not_count(ev: Evaluator) -> None:
    assert render(ev, '${"}" + a}') == "}UTC"
    assert render(ev, "${'{' + a + '}'}x") == "{UTC}x"
    assert render(ev, '${"a\\"}b"}') == 'a"}b'
    assert render(ev, "${a.replace(/[}]/g, '')}!") == "UTC!"
    assert render(ev, "${\"it's\".replace(/'/g, '')}") == "its"


def test_division_is_not_a_regex(ev: Evaluator) -> None:
    assert render(ev, "${n / 3} and ${6 / n}") == "1 and 2"


def test_secret_references_are_left_alone(ev: Evaluator) -> None:
    assert render(ev, "${secret:key}") == "${secret:key}"
    assert render(ev, "a=${secret:nested.bar} b=${a}") == "a=${secret:nested.bar} b=UTC"
    assert render(ev, "${secret:${a}}") == "${secret:UTC}"


def test_unclosed_expression_stays_literal(ev: Evaluator) -> None:
    assert render(ev, "x ${a} ${v") == "x UTC ${v"
    assert render(ev, "cost: $5, ${n} items") == "cost: $5, 3 items"
    assert render(ev, "$ {a}") == "$ {a}"


def test_parse_parts() -> None:
    assert parse("p${1}m$$m${2}s").parts == ("p", "1", "m$m", "2", "s")
    assert parse("no template").parts == ("no template",)
    assert parse("${a}").codes == ("a",)
    assert parse("$$").is_literal


def test_has_template() -> None:
    assert has_template("${a}")
    assert has_template("a $$ b")
    assert not has_template("plain text")
    assert not has_template("cost $5")
    assert not has_template("")


def test_text_without_dollar_is_returned_as_is(ev: Evaluator) -> None:
    text = "no templates {here}"
    assert ev.render(text, {}) is text


# -- scope ----------------------------------------------------------------------------------

def test_params_shadow_globals(ev: Evaluator) -> None:
    assert render(ev, "${Math}", {"Math": "mine"}) == "mine"
    assert render(ev, "${typeof moment}", {}) == "function"


def test_expressions_do_not_leak_changes_between_renders(ev: Evaluator) -> None:
    params = {"list": [3, 1, 2]}
    assert render(ev, "${list.sort()}", params) == "[1,2,3]"
    assert render(ev, "${list.push(9)}", params) == "4"
    assert render(ev, "${list}", params) == "[3,1,2]"
    assert params == {"list": [3, 1, 2]}


def test_render_value_recurses(ev: Evaluator) -> None:
    value = {"cmd": "echo ${a}", "k": 1, "list": ["${n}", 2, {"x": "$${y}"}], "none": None}
    assert ev.render_value(value, PARAMS) == {
        "cmd": "echo UTC", "k": 1, "list": ["3", 2, {"x": "${y}"}], "none": None,
    }
    assert ev.render_value("${n}", PARAMS) == "3"
    assert ev.render_value(5, PARAMS) == 5
    assert ev.render_value(["${a}", ("${b}",)], PARAMS) == ["UTC", ["UTC"]]


def test_render_value_sees_earlier_keys_of_the_same_object(ev: Evaluator) -> None:
    value = {"first": "${a}-1", "second": "${first}-2", "list": ["${second}"], "n": "${n}"}
    assert ev.render_value(value, PARAMS) == {
        "first": "UTC-1", "second": "UTC-1-2", "list": ["UTC-1-2"], "n": "3",
    }
    # in JavaScript too (not only the plain-name shortcut)
    assert ev.render_value({"x": 2, "y": "${x * n}"}, PARAMS) == {"x": 2, "y": "6"}
    # later keys are not visible yet, and a nested object starts afresh
    with pytest.raises(ExprError, match="later"):
        ev.render_value({"early": "${later}", "later": "x"}, PARAMS)
    with pytest.raises(ExprError, match="outer"):
        ev.render_value({"outer": "o", "inner": {"v": "${outer}"}}, PARAMS)


def test_plain_names_and_javascript_agree(ev: Evaluator) -> None:
    """`${x}` may be answered without JavaScript; the result must be the same as in JS."""
    params = {"s": "text", "i": 42, "f": 0.1, "t": True, "z": None, "d": {"e": {"f": "g"}}}
    for name in ["s", "i", "f", "t", "z", "d.e.f", "d.e"]:
        assert render(ev, "${" + name + "}", params) == render(ev, "${(" + name + ")}", params)


# -- Java String methods --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${session_date.replaceAll('-', '')}", "20160102"),
        ("${'a.b.c'.replaceAll('.', '_')}", "_____"),  # Java: the pattern is a regex
        ("${'a.b.c'.replaceAll('\\\\.', '_')}", "a_b_c"),
        ("${'2016-01-02'.replaceAll('(\\\\d+)-(\\\\d+)', '$2/$1')}", "01/2016-02"),
        ("${'abc'.replaceAll('b', '\\\\$')}", "a$c"),
        ("${'aXbx'.replaceAll('(?i)x', '-')}", "a-b-"),
        ("${'a-b-c'.replaceAll(/-/g, '+')}", "a+b+c"),
        ("${'a-b-c'.replaceFirst('-', '+')}", "a+b-c"),
        ("${'2016-01-02'.matches('\\\\d{4}-\\\\d\\\\d-\\\\d\\\\d')}", "true"),
        ("${'2016-01-02x'.matches('\\\\d{4}-\\\\d\\\\d-\\\\d\\\\d')}", "false"),
        ("${'abc'.contains('b')}", "true"),
        ("${'ABC'.equalsIgnoreCase('abc')}", "true"),
        ("${''.isEmpty()}", "true"),
    ],
)
def test_java_string_methods(ev: Evaluator, text: str, expected: str) -> None:
    assert render(ev, text) == expected


def test_java_replacement_with_bad_group_reference_fails(ev: Evaluator) -> None:
    with pytest.raises(ExprError, match="group"):
        render(ev, "${'abc'.replaceAll('b', '$x')}")


# -- limits ---------------------------------------------------------------------------------

def test_runaway_loop_is_stopped() -> None:
    ev = Evaluator("UTC", NOW, time_limit=0.3)
    with pytest.raises(ExprError) as info:
        ev.render("${(function(){ while (true) {} })()}", {})
    assert "timed out" in str(info.value)
    assert "while (true)" in str(info.value)
    assert ev.render("${1 + 1}", {}) == "2"  # the context is still usable


def test_statement_is_not_an_expression() -> None:
    ev = Evaluator("UTC", NOW, time_limit=0.3)
    with pytest.raises(ExprError, match="while"):
        ev.render("${while(true){}}", {})


def test_runaway_recursion_is_stopped(ev: Evaluator) -> None:
    with pytest.raises(ExprError, match="stack overflow"):
        render(ev, "${(function f(){ return f() + 1 })()}")
    assert render(ev, "${(function f(n){ return n ? 1 + f(n - 1) : 0 })(200)}") == "200"


def test_runaway_memory_is_stopped() -> None:
    ev = Evaluator("UTC", NOW, memory_limit=32 * 1024 * 1024, time_limit=5)
    with pytest.raises(ExprError, match="memory"):
        ev.render("${(function(){ var a = []; while (true) a.push(new Array(100000).fill(1)) })()}", {})
    assert ev.render("${1 + 1}", {}) == "2"


# -- evaluator ------------------------------------------------------------------------------

def test_unknown_evaluator_timezone_is_refused() -> None:
    with pytest.raises(ExprError, match="Mars/Base"):
        Evaluator("Mars/Base")


def test_each_thread_gets_a_working_context() -> None:
    ev = Evaluator("Asia/Tokyo", NOW)
    assert ev.render("${moment().format()}", {}) == "2016-03-13T19:00:00+09:00"
    results: list[str] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(20):
                results.append(ev.render("${(function f(n){ return n ? f(n - 1) : i })(300)}", {"i": i}))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(set(results)) == ["0", "1", "2", "3"]


def test_many_renders_with_many_params() -> None:
    """Performance sanity (correctness only; timing is reported by hand, not asserted)."""
    ev = Evaluator("UTC", NOW)
    params: dict[str, Any] = {f"key{i}": f"value{i}" for i in range(28)}
    params["session_date"] = "2016-01-02"
    for i in range(2000):
        params["i"] = i
        assert ev.render("${i} and ${session_date}", params) == f"{i} and 2016-01-02"
    for i in range(500):
        params["i"] = i
        assert ev.render("${i + 1}/${session_date.replaceAll('-', '')}", params) == f"{i + 1}/20160102"
    many = {f"t{i}": f"${{i + {i}}}" for i in range(5000)}  # more templates than a context keeps
    rendered = ev.render_value(many, params)
    assert rendered["t4999"] == str(params["i"] + 4999)
