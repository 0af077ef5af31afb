"""Digdag's strict YAML dialect (dig-spec §1.1) as read by dockerflow.dig.yaml_loader."""

from __future__ import annotations

import copy
import json
import math
import os
import pickle
import textwrap

import pytest

from dockerflow.dig import yaml_loader
from dockerflow.dig.yaml_loader import PosList, PosMap, load_file, load_text
from dockerflow.errors import DigError

COMPOSERS = [c for c in (yaml_loader._CComposer, yaml_loader._PyComposer) if c is not None]


@pytest.fixture(params=COMPOSERS, ids=lambda c: c.__name__)
def composer(request, monkeypatch):
    """Runs a test with libyaml and with the pure-Python parser: both must agree."""
    monkeypatch.setattr(yaml_loader, "_Composer", request.param)
    return request.param


def y(text: str, file: str = "<string>") -> PosMap:
    return load_text(textwrap.dedent(text), file)


def err(text: str, file: str = "<string>") -> DigError:
    with pytest.raises(DigError) as info:
        y(text, file)
    return info.value


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------
# Scalars


@pytest.mark.parametrize(("text", "expected"), [
    # no base 60 ints, no timestamps
    ("10:30:00", "10:30:00"),
    ("10:00", "10:00"),
    ("2016-01-01", "2016-01-01"),
    ("2016-01-01 10:00:00", "2016-01-01 10:00:00"),
    ("2016-01-01T10:00:00Z", "2016-01-01T10:00:00Z"),
    # booleans: only true/True/false/False
    ("true", True), ("True", True), ("false", False), ("False", False),
    ("TRUE", "TRUE"), ("FALSE", "FALSE"),
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"),
    ("Yes", "Yes"), ("ON", "ON"),
    # nulls
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None),
    # ints
    ("0", 0), ("42", 42), ("-17", -17), ("+5", 5), ("1_000", 1000),
    ("0x1F", 31), ("-0x1F", -31), ("0x1f", 31), ("012", 10), ("0_7", 7), ("0b101", 5),
    ("-0b11", -3),
    # not octal, not a float starting with 0: a string
    ("08", "08"), ("019", "019"),
    # floats must not start with 0
    ("0.5", "0.5"), ("-0.5", "-0.5"), ("00.5", "00.5"), ("0.0", "0.0"), ("0e3", "0e3"),
    (".5", 0.5), ("-.5", -0.5), ("1.5", 1.5), ("-1.5", -1.5), ("1.", 1.0), ("1_0.5", 10.5),
    ("1e3", 1000.0), ("1.5e-3", 0.0015), ("1E3", 1000.0), (".5e1", 5.0),
    (".inf", math.inf), ("-.inf", -math.inf), ("+.Inf", math.inf),
    # Digdag keeps YAML 1.1 sexagesimal floats (with a fraction)
    ("1:30.5", 90.5),
    # strings
    ("hello", "hello"), ("${session_time}", "${session_time}"), ("1.2.3", "1.2.3"),
    ("0x", "0x"), ("0x_", "0x_"), ("0b", "0b"), ("0x_1F", 31),
    ("<<", "<<"), ("=", "="),
])
def test_plain_scalar(composer, text, expected):
    value = y(f"v: {text}\n")["v"]
    assert value == expected
    assert type(value) is type(expected)


def test_nan(composer):
    assert math.isnan(y("v: .nan\n")["v"])
    assert y("v: -.nan\n")["v"] == "-.nan"  # Digdag's regex has no signed NaN


@pytest.mark.parametrize("text", ["'10'", '"true"', "'0x1F'", "'~'", "''", "'1.5'"])
def test_quoted_scalars_are_strings(composer, text):
    value = y(f"v: {text}\n")["v"]
    assert isinstance(value, str)
    assert value == text[1:-1]


def test_block_scalars_are_strings(composer):
    data = y("""\
        a: |
          123
        b: >
          true
        """)
    assert data == {"a": "123\n", "b": "true\n"}


def test_explicit_core_tags(composer):
    data = y("""\
        a: !!str 123
        b: !!int "12"
        c: !!float "1"
        d: !!bool "yes"
        e: !!null "x"
        f: !!str 0.5
        """)
    assert data == {"a": "123", "b": 12, "c": 1.0, "d": True, "e": None, "f": "0.5"}
    assert type(data["c"]) is float


def test_bad_explicit_tag_value(composer):
    e = err("a: 1\nb: !!int abc\n")
    assert (e.line, e.file) == (2, "<string>")
    assert "!!int" in e.message


def test_unknown_tag_is_refused(composer):
    e = err("a: 1\nb: !foo bar\n")
    assert e.line == 2
    assert "!foo" in e.message and "!include" in e.message


@pytest.mark.parametrize(("text", "line"), [
    ("a: 1\n!include: 'x.dig'\n", 2),
    ("# !include: is wrong\na:\n  !include: x.dig\n  b: 1\n", 3),
    ("!include: 'x.dig'\na: 1\n", 1),
    ("!include: 'x.dig'\n", 1),
])
def test_include_without_space_before_colon(composer, text, line):
    e = err(text)
    assert e.line == line
    assert "`!include : 'file.dig'`" in e.message


# ------------------------------------------------------------------------------------------
# Keys


def test_keys_are_strings(composer):
    data = y("""\
        1: int
        true: bool
        1.5: float
        0x10: hex
        "q": quoted
        """)
    assert list(data) == ["1", "true", "1.5", "16", "q"]


def test_null_key_refused(composer):
    e = err("a: 1\n~: 2\n")
    assert e.line == 2
    assert "null" in e.message and "quote" in e.message


def test_complex_key_refused(composer):
    e = err("a: 1\n? [x, y]\n: 2\n")
    assert e.line == 2
    assert "a list" in e.message


def test_order_is_preserved(composer):
    keys = [f"+t{i}" for i in (5, 3, 9, 1, 7, 2, 8, 0, 6, 4)]
    text = "".join(f"{k}:\n  echo>: {k}\n" for k in keys)
    data = y(text)
    assert list(data) == keys
    assert list(y("z: 1\na: 2\nm: {y: 1, b: 2}\n")["m"]) == ["y", "b"]


# ------------------------------------------------------------------------------------------
# Positions


def test_positions(composer):
    data = y("""\
        # comment
        timezone: UTC

        +a:
          sh>: echo a
          _export:
            x: 1
        +b:
          - one
          - two
        """, "wf.dig")
    assert isinstance(data, PosMap)
    assert (data.file, data.line) == ("wf.dig", 2)
    assert data.key_pos == {"timezone": ("wf.dig", 2), "+a": ("wf.dig", 4), "+b": ("wf.dig", 8)}
    a = data["+a"]
    assert isinstance(a, PosMap)
    assert (a.file, a.line) == ("wf.dig", 5)
    assert a.key_pos["sh>"] == ("wf.dig", 5)
    assert a.key_pos["_export"] == ("wf.dig", 6)
    assert a["_export"].key_pos["x"] == ("wf.dig", 7)
    b = data["+b"]
    assert isinstance(b, PosList)
    assert (b.file, b.line) == ("wf.dig", 9)
    assert a.pos_of("sh>") == ("wf.dig", 5)
    assert a.pos_of("missing") == ("wf.dig", 5)


def test_flow_positions(composer):
    data = y("a: 1\nb: {c: [1, {d: 2}]}\n")
    assert data["b"].line == 2
    assert data["b"]["c"].line == 2
    assert data["b"]["c"][1].key_pos["d"] == ("<string>", 2)


def test_posmap_behaves_like_a_dict():
    data = load_text("a: {b: [1, 2]}\n", "f.dig")
    assert data == {"a": {"b": [1, 2]}}
    assert json.loads(json.dumps(data)) == {"a": {"b": [1, 2]}}
    clone = copy.deepcopy(data)
    assert clone == data and clone["a"] is not data["a"]
    assert (clone.file, clone["a"].key_pos) == ("f.dig", {"b": ("f.dig", 1)})
    assert clone["a"]["b"].line == 1
    again = pickle.loads(pickle.dumps(data))
    assert again == data and again.key_pos == data.key_pos
    shallow = data.copy()
    assert isinstance(shallow, PosMap) and shallow.key_pos == data.key_pos


# ------------------------------------------------------------------------------------------
# Top level


def test_empty_file(composer):
    for text in ("", "# only a comment\n", "\n\n", "---\n", "~\n"):
        data = load_text(text, "e.dig")
        assert data == {} and isinstance(data, PosMap) and data.file == "e.dig"


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("hello\n", "string"),
                                             ("42\n", "number")])
def test_top_level_must_be_a_mapping(composer, text, kind):
    e = err(text, "t.dig")
    assert (e.file, e.line) == ("t.dig", 1)
    assert "mapping" in e.message and kind in e.message


# ------------------------------------------------------------------------------------------
# Duplicate keys


def test_duplicate_top_level_key(composer):
    e = err("""\
        timezone: UTC

        +a:
          echo>: 1
        +b:
          echo>: 2
        +a:
          echo>: 3
        """, "wf.dig")
    assert (e.file, e.line) == ("wf.dig", 7)
    assert "duplicate key '+a' (first defined at line 3)" in e.message
    assert str(e).startswith("wf.dig:7: duplicate key '+a'")


def test_duplicate_nested_key(composer):
    e = err("""\
        +a:
          +b:
            sh>: echo 1
            _export:
              x: 1
              y: 2
              x: 3
        """)
    assert e.line == 7
    assert "duplicate key 'x' (first defined at line 5)" in e.message


def test_duplicate_key_in_list_item(composer):
    e = err("a:\n  - {b: 1, c: 2, b: 3}\n")
    assert e.line == 2
    assert "duplicate key 'b'" in e.message


def test_duplicate_after_key_conversion(composer):
    e = err("1: a\n'1': b\n")
    assert e.line == 2 and "duplicate key '1'" in e.message
    e = err("0x10: a\n16: b\n")
    assert e.line == 2 and "duplicate key '16'" in e.message


def test_same_key_in_different_mappings_is_fine(composer):
    assert y("a: {x: 1}\nb: {x: 2}\n") == {"a": {"x": 1}, "b": {"x": 2}}


# ------------------------------------------------------------------------------------------
# Syntax errors


@pytest.mark.parametrize(("text", "line", "words"), [
    ("a: 1\nb: c: d\n", 2, "mapping values are not allowed"),
    ("a: 1\nb:\n\tc: 1\n", 3, "tabs"),
    ("a: 1\nb: [1, 2\n", 3, "flow sequence"),
    ("a: 1\nb: 'open\n", 3, "not closed"),
    ("a:\n  b: 1\n c: 2\n", 3, "indentation"),
    ("a: 1\n---\nb: 2\n", 2, "single document"),
    ("a: 1\nb: *nope\n", 2, "alias"),
    ("a: 1\nb: @x\n", 2, "'@'"),
])
def test_syntax_errors(composer, text, line, words):
    e = err(text, "s.dig")
    assert (e.file, e.line) == ("s.dig", line)
    assert e.message.startswith("invalid YAML: ")
    assert words in e.message


def test_control_character(composer):
    e = err("a: 1\nb: x\x01y\n")
    assert e.line == 2
    assert "#x0001" in e.message


def test_invalid_utf8(tmp_path):
    path = tmp_path / "bad.dig"
    path.write_bytes(b"a: 1\nb: \xff\xfe\n")
    with pytest.raises(DigError) as info:
        load_file(path, "bad.dig")
    assert (info.value.file, info.value.line) == ("bad.dig", 2)
    assert "UTF-8" in info.value.message


def test_bom_is_ignored(tmp_path):
    path = tmp_path / "bom.dig"
    path.write_bytes("\ufeffa: 1\n".encode())
    assert load_file(path) == {"a": 1}
    assert load_text("\ufeffa: 1\n") == {"a": 1}


def test_missing_file(tmp_path):
    with pytest.raises(DigError) as info:
        load_file(tmp_path / "nope.dig", "nope.dig")
    assert info.value.file == "nope.dig"
    assert "does not exist" in info.value.message


# ------------------------------------------------------------------------------------------
# Anchors, aliases, merge keys


def test_aliases_are_independent_copies(composer):
    data = y("a: &x {b: [1, 2]}\nc: *x\n")
    assert data["a"] == data["c"] == {"b": [1, 2]}
    assert data["a"] is not data["c"] and data["a"]["b"] is not data["c"]["b"]


def test_merge_key(composer):
    data = y("""\
        defaults: &d
          x: 1
          y: 2
        +a:
          <<: *d
          y: 3
        +b:
          y: 4
          <<: *d
        +c:
          <<: [{p: 1, x: 5}, *d]
        """)
    assert data["+a"] == {"x": 1, "y": 3}
    assert list(data["+a"]) == ["x", "y"]
    assert data["+a"].key_pos["x"] == ("<string>", 2)
    assert data["+a"].key_pos["y"] == ("<string>", 6)
    assert data["+b"] == {"y": 4, "x": 1}
    assert data["+c"] == {"p": 1, "x": 5, "y": 2}


def test_merge_key_errors(composer):
    e = err("a: 1\nb:\n  <<: 3\n")
    assert e.line == 3 and "'<<'" in e.message
    e = err("d: &d {x: 1}\nb:\n  <<: *d\n  <<: *d\n")
    assert e.line == 4 and "duplicate key '<<'" in e.message


def test_recursive_alias_refused(composer):
    e = err("a: 1\nb: &x\n  c: *x\n")
    assert "recursive" in e.message


def test_alias_bomb_refused(composer):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    e = err("\n".join(lines) + "\n")
    assert "aliases" in e.message


# ------------------------------------------------------------------------------------------
# !include


def test_include_as_key_merges_mapping(composer, tmp_path):
    write(tmp_path / "common.dig", """\
        timezone: Asia/Tokyo
        _export:
          a: 1
          nested: {p: 1, q: 1}
        """)
    write(tmp_path / "more.dig", """\
        +extra:
          echo>: more
        """)
    wf = write(tmp_path / "wf.dig", """\
        _export:
          a: 0
          b: 2
          nested: {q: 0, r: 0}
        !include : 'common.dig'
        !include : 'more.dig'
        +last:
          echo>: done
        """)
    data = load_file(wf, "wf.dig")
    assert list(data) == ["_export", "timezone", "+extra", "+last"]
    # included leaves win over earlier keys; mappings are deep-merged
    assert data["_export"] == {"a": 1, "b": 2, "nested": {"q": 1, "r": 0, "p": 1}}
    assert data["timezone"] == "Asia/Tokyo"
    assert data.key_pos["timezone"] == ("common.dig", 1)
    assert data.key_pos["_export"] == ("wf.dig", 1)
    assert data["_export"].key_pos["a"] == ("common.dig", 3)
    assert data["_export"].key_pos["b"] == ("wf.dig", 3)
    assert data.key_pos["+extra"] == ("more.dig", 1)
    assert data["+extra"].file == "more.dig"
    assert data.key_pos["+last"] == ("wf.dig", 7)


def test_later_local_key_replaces_included_value(composer, tmp_path):
    write(tmp_path / "defaults.dig", "_export: {x: 1, y: 1}\nk: included\n")
    wf = write(tmp_path / "wf.dig", """\
        !include : 'defaults.dig'
        _export:
          y: 2
        k: local
        """)
    data = load_file(wf, "wf.dig")
    assert data == {"_export": {"y": 2}, "k": "local"}  # Digdag: a later key wins whole
    assert data.key_pos["k"] == ("wf.dig", 4)


def test_include_key_inside_a_task(composer, tmp_path):
    write(tmp_path / "opts.dig", "_retry: 3\n_env: {A: b}\n")
    wf = write(tmp_path / "wf.dig", """\
        +task:
          sh>: echo hi
          !include : opts.dig
        """)
    data = load_file(wf, "wf.dig")
    assert data["+task"] == {"sh>": "echo hi", "_retry": 3, "_env": {"A": "b"}}


def test_include_as_value(composer, tmp_path):
    write(tmp_path / "tasks" / "sub.dig", """\
        +x:
          echo>: from sub
        """)
    write(tmp_path / "list.yml", "- 1\n- 0.5\n")
    write(tmp_path / "scalar.yml", "hello\n")
    wf = write(tmp_path / "wf.dig", """\
        +group: !include 'tasks/sub.dig'
        items: !include list.yml
        s: !include scalar.yml
        seq:
          - !include 'tasks/sub.dig'
        """)
    data = load_file(wf, "proj/wf.dig")
    assert data["+group"] == {"+x": {"echo>": "from sub"}}
    assert data["+group"].file == "proj/tasks/sub.dig"
    assert data["+group"].key_pos["+x"] == ("proj/tasks/sub.dig", 1)
    assert data["+group"]["+x"].key_pos["echo>"] == ("proj/tasks/sub.dig", 2)
    assert data.key_pos["+group"] == ("proj/wf.dig", 1)
    assert data["items"] == [1, "0.5"]
    assert isinstance(data["items"], PosList) and data["items"].file == "proj/list.yml"
    assert data["s"] == "hello"
    assert data["seq"] == [{"+x": {"echo>": "from sub"}}]


def test_included_content_is_fresh_each_time(composer, tmp_path):
    write(tmp_path / "a.dig", "x: {y: 1}\n")
    wf = write(tmp_path / "wf.dig", "p: !include a.dig\nq: !include a.dig\n")
    data = load_file(wf)
    assert data["p"] == data["q"] and data["p"] is not data["q"]


def test_nested_includes_are_relative_to_the_including_file(composer, tmp_path):
    write(tmp_path / "a" / "b" / "leaf.dig", "leaf: true\nbad: {x: 1, x: 2}\n")
    write(tmp_path / "a" / "b" / "ok.dig", "leaf: true\n")
    write(tmp_path / "a" / "mid.dig", "!include : 'b/ok.dig'\nmid: 1\nsub: !include b/ok.dig\n")
    wf = write(tmp_path / "wf.dig", "!include : 'a/mid.dig'\ntop: 1\n")
    data = load_file(wf, "wf.dig")
    assert data == {"leaf": True, "mid": 1, "sub": {"leaf": True}, "top": 1}
    assert data.key_pos["leaf"] == ("a/b/ok.dig", 1)
    assert data.key_pos["mid"] == ("a/mid.dig", 2)
    assert data["sub"].file == "a/b/ok.dig"

    # errors inside an included file point into that file
    write(tmp_path / "a" / "mid.dig", "!include : 'b/leaf.dig'\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert (info.value.file, info.value.line) == ("a/b/leaf.dig", 2)
    assert "duplicate key 'x'" in info.value.message


def test_several_include_keys_are_not_duplicates(composer, tmp_path):
    for name in "abc":
        write(tmp_path / f"{name}.dig", f"{name}: 1\n")
    wf = write(tmp_path / "wf.dig", "!include : a.dig\n!include : b.dig\n+t:\n"
                                    "  !include : c.dig\n  !include : a.dig\n")
    assert load_file(wf) == {"a": 1, "b": 1, "+t": {"c": 1, "a": 1}}


def test_include_escaping_the_directory_is_refused(composer, tmp_path):
    write(tmp_path / "outside.dig", "x: 1\n")
    write(tmp_path / "proj" / "sub" / "inner.dig", "!include : '../other.dig'\n")
    write(tmp_path / "proj" / "other.dig", "y: 1\n")
    for line in ("!include : '../outside.dig'", "v: !include ../outside.dig",
                 "v: !include sub/../../outside.dig", "!include : '..'"):
        wf = write(tmp_path / "proj" / "wf.dig", f"a: 1\n{line}\n")
        with pytest.raises(DigError) as info:
            load_file(wf, "wf.dig")
        assert (info.value.file, info.value.line) == ("wf.dig", 2), line
        assert "leaves the directory" in info.value.message

    # a nested include may not leave *its own* directory either
    wf = write(tmp_path / "proj" / "wf.dig", "!include : 'sub/inner.dig'\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert (info.value.file, info.value.line) == ("sub/inner.dig", 1)

    # going down and back up inside the directory is fine
    write(tmp_path / "proj" / "sub" / "x.dig", "z: 1\n")
    wf = write(tmp_path / "proj" / "wf.dig", "!include : 'sub/../other.dig'\n")
    assert load_file(wf) == {"y": 1}


def test_absolute_include_is_refused(composer, tmp_path):
    target = write(tmp_path / "t.dig", "x: 1\n")
    wf = write(tmp_path / "wf.dig", f"!include : '{target}'\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert info.value.line == 1 and "absolute" in info.value.message


def test_missing_include(composer, tmp_path):
    wf = write(tmp_path / "wf.dig", "a: 1\n+t:\n  !include : 'missing.dig'\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert (info.value.file, info.value.line) == ("wf.dig", 3)
    assert "missing.dig" in info.value.message and "does not exist" in info.value.message

    wf = write(tmp_path / "wf.dig", "a: !include 'nope.yml'\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert (info.value.file, info.value.line) == ("wf.dig", 1)


def test_include_of_a_directory(composer, tmp_path):
    (tmp_path / "d").mkdir()
    wf = write(tmp_path / "wf.dig", "!include : d\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert "directory" in info.value.message


def test_include_cycle(composer, tmp_path):
    write(tmp_path / "a.dig", "x: 1\n!include : 'b.dig'\n")
    write(tmp_path / "b.dig", "y: !include 'a.dig'\n")
    wf = write(tmp_path / "wf.dig", "!include : a.dig\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert (info.value.file, info.value.line) == ("b.dig", 1)
    assert "include cycle: a.dig -> b.dig -> a.dig" in info.value.message

    self_ref = write(tmp_path / "self.dig", "!include : self.dig\n")
    with pytest.raises(DigError) as info:
        load_file(self_ref, "self.dig")
    assert "include cycle: self.dig -> self.dig" in info.value.message


@pytest.mark.parametrize("line", [
    "!include : {a: 1}", "!include : [a.dig]", "!include :", "!include : ~", "v: !include",
    "v: !include {a: 1}", "v: !include [a]",
])
def test_include_value_must_be_a_string(composer, tmp_path, line):
    wf = write(tmp_path / "wf.dig", f"a: 1\n{line}\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert (info.value.file, info.value.line) == ("wf.dig", 2)
    assert "!include" in info.value.message


def test_include_key_with_text_is_refused(composer, tmp_path):
    wf = write(tmp_path / "wf.dig", "!include foo.dig: bar\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert "!include : 'file.dig'" in info.value.message


@pytest.mark.parametrize(("content", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "string")])
def test_include_key_needs_a_mapping(composer, tmp_path, content, kind):
    write(tmp_path / "inc.yml", content)
    wf = write(tmp_path / "wf.dig", "a: 1\n!include : inc.yml\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert (info.value.file, info.value.line) == ("wf.dig", 2)
    assert "mapping" in info.value.message and kind in info.value.message


def test_empty_included_file(composer, tmp_path):
    write(tmp_path / "empty.dig", "# nothing\n")
    wf = write(tmp_path / "wf.dig", "!include : empty.dig\nv: !include empty.dig\n")
    assert load_file(wf) == {"v": {}}


def test_syntax_error_in_included_file(composer, tmp_path):
    write(tmp_path / "inc.dig", "a: 1\nb: [\n")
    wf = write(tmp_path / "wf.dig", "!include : inc.dig\n")
    with pytest.raises(DigError) as info:
        load_file(wf, "wf.dig")
    assert info.value.file == "inc.dig" and info.value.line == 3


def test_load_text_includes_are_relative_to_cwd(composer, tmp_path, monkeypatch):
    write(tmp_path / "inc" / "x.dig", "x: 1\n")
    monkeypatch.chdir(tmp_path)
    data = load_text("!include : inc/x.dig\n")
    assert data == {"x": 1}
    assert data.key_pos["x"] == (os.path.join("inc", "x.dig"), 1)


def test_display_name_defaults_to_path(tmp_path):
    write(tmp_path / "inc.dig", "x: 1\n")
    wf = write(tmp_path / "wf.dig", "!include : inc.dig\n")
    data = load_file(str(wf))
    assert data.file == str(wf)
    assert data.key_pos["x"] == (str(tmp_path / "inc.dig"), 1)


# ------------------------------------------------------------------------------------------
# Speed


def test_one_megabyte_loads():
    """Its speed is bench/local_scale.py's to measure (the CLI tunes the collector)."""
    parts = ["timezone: UTC\n"]
    size = 0
    i = 0
    while size < 1_000_000:
        part = (f"+task{i}:\n  sh>: echo hello {i}\n  _retry: 3\n  _export:\n    v: 0.5\n"
                f"    w: [1, 2, '3', yes]\n  +child:\n    echo>: ${{session_time}}\n")
        parts.append(part)
        size += len(part)
        i += 1
    data = load_text("".join(parts))
    assert len(data) == i + 1
    assert data[f"+task{i - 1}"]["+child"]["echo>"] == "${session_time}"


@pytest.mark.parametrize("depth", [600, 100_000])
def test_absurd_nesting_is_refused_not_a_crash(composer, depth):
    e = err("a: 1\nb: " + "[" * depth + "]" * depth + "\n")
    assert "nested" in e.message
