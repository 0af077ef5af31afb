"""The dialect YAML emitter: whatever it writes, the engine's loader reads back unchanged."""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dockerflow.dig.yaml_loader import load_text
from dockerflow.sdk.emitter import dump, format_scalar

TRICKY = [
    "yes", "no", "on", "off", "y", "n", "Yes", "NO", "true", "False", "TRUE", "null", "Null",
    "~", "", " ", "0.5", "-0.5", "10:30:00", "1:30", "* * * * *", "a: b", "a #b", "#x", "&a",
    "*a", "!x", "|x", ">x", "%x", "@x", "`x", "'x", '"x', "-", "- a", "-a", "---", "...",
    "<<", "=", " x", "x ", "1e3", ".5", ".inf", "-.inf", ".nan", "0x1F", "0o17", "0b1", "017",
    "2024-03-05", "2024-03-05 10:00:00", "a\nb", "\n", "x\n\n", "\na", "\ta", "a\tb",
    "${x}", "echo ${a} >> out.txt", "key: value\n  more", "a\r\nb", "\u00a0", "\ufeff",
    "\u2028", "\x85", "\x00", "é", "日本", "😀", "a,b", "[a]", "{a: 1}", "a:", ":a", "?a",
    "  lead\nline", "x\n  \ny", "last  \n", "{{x}}", "+a", "_x", "http://x:80/y?q=1#f",
    "it's", 'say "hi"', "back\\slash", "'both\" \\", "1_000", "+1", "-1", "0", "00",
]

scalar = (st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
          | st.floats(allow_nan=False) | st.text(max_size=30) | st.sampled_from(TRICKY))
key = st.text(max_size=12) | st.sampled_from(TRICKY)
value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=4),
    max_leaves=16,
)


def plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def same(a: Any, b: Any) -> bool:
    """Equality that also tells floats from ints and bools (1 == 1.0 == True in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_stay_strings(text: str) -> None:
    doc = {"k": text, text: "v", "l": [text, 1]}
    loaded = plain(load_text(dump(doc)))
    assert same(loaded, doc)


@pytest.mark.parametrize("text", ["10:30:00", "yes", "0.5", "* * * * *", "a: b", "a #b",
                                  "*x", "&x", "!x", "|x", ">x", "%x", "@x", "'x", '"x'])
def test_strings_the_issue_names_are_quoted(text: str) -> None:
    written = format_scalar(text)
    assert written[0] in "'\"", written
    # and a plain YAML 1.1 reader agrees too
    assert yaml.safe_load(f"k: {written}")["k"] == text


@pytest.mark.parametrize("number,text", [(0.5, ".5"), (-0.5, "-.5"), (1.5, "1.5"),
                                         (1e20, "1.0e+20"), (0.0, ".0"), (-0.0, "-.0"),
                                         (math.inf, ".inf"), (-math.inf, "-.inf"), (3, "3"),
                                         (True, "true"), (None, "null")])
def test_numbers_are_written_for_the_dialect(number: Any, text: str) -> None:
    assert format_scalar(number) == text
    assert same(load_text(f"k: {text}")["k"], number)


def test_plain_where_safe() -> None:
    assert format_scalar("echo hello") == "echo hello"
    assert format_scalar("python:3") == "python:3"
    assert format_scalar("${session_date}") == "${session_date}"
    assert dump({"a": [1, "b"], "m": {}, "e": []}) == "a: [1, b]\nm: {}\ne: []\n"


def test_multiline_uses_literal_blocks() -> None:
    text = dump({"sh>": "echo a\necho b\n", "x": "one\ntwo", "z": "keep\n\n"}, spaced=False)
    assert text == "sh>: |\n  echo a\n  echo b\nx: |-\n  one\n  two\nz: |+\n  keep\n\n"
    assert plain(load_text(text)) == {"sh>": "echo a\necho b\n", "x": "one\ntwo",
                                      "z": "keep\n\n"}


def test_long_lists_go_in_block_style() -> None:
    items = [f"item-{i:02d}" for i in range(20)]
    text = dump({"k": items})
    assert text.startswith("k:\n  - item-00\n")
    assert plain(load_text(text))["k"] == items


@settings(max_examples=400, deadline=None)
@given(value)
def test_any_value_round_trips_through_the_loader(v: Any) -> None:
    doc = {"k": v, "nested": {"list": [v, {"x": v}]}}
    text = dump(doc)
    assert same(plain(load_text(text)), doc), text


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(key, value, max_size=6))
def test_any_mapping_round_trips_and_is_stable(doc: dict[str, Any]) -> None:
    text = dump(doc)
    assert same(plain(load_text(text)), doc), text
    assert dump(plain(load_text(text))) == text


@pytest.mark.parametrize("v", [[], {}, "x", [1, 2], {"a": [1]}, "a\nb\n", None])
def test_long_keys(v: Any) -> None:
    doc = {"k" * 2000: v, "n": {"é" * 1500: v, "short": v}, "l": [{"x" * 1200: v}]}
    assert same(plain(load_text(dump(doc))), doc)
    assert same(plain(load_text(dump({"q" * 90: v}))), {"q" * 90: v})
