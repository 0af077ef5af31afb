"""The configuration file parser (dockerflow/config.py): Java-properties lines, params nesting,
secrets, settings, default paths and refusals with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockerflow.cli.params import build_params
from dockerflow.config import default_paths, load_config, parse_config, parse_properties
from dockerflow.errors import DigError, UserInputError


def test_properties_syntax() -> None:
    text = ("# comment\n  ! comment\n\n"
            "a=1\nb : 2\n  c   =   spaced value  \nd=\ne:x=y\n"
            "f = one \\\n    two \\\\\ng = \\u00e9t\\u00E9 \\t|\\n|\\=\\:\\#\n"
            "h\\=k = v\nemoji = \\uD83D\\uDE00\n")
    assert parse_properties(text, "f") == [
        (4, "a", "1"), (5, "b", "2"), (6, "c", "spaced value  "), (7, "d", ""),
        (8, "e", "x=y"), (9, "f", "one two \\"), (11, "g", "été \t|\n|=:#"),
        (12, "h=k", "v"), (13, "emoji", "\U0001F600")]


def test_a_trailing_backslash_on_the_last_line_continues_into_nothing() -> None:
    assert parse_properties("a = x\\", "f") == [(1, "a", "x")]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("ok = 1\nno separator here\n", 2, "expected KEY = VALUE, got 'no separator here'"),
    ("lonely\n", 1, "expected KEY = VALUE"),
    ("= value\n", 1, "the key before '=' is empty"),
    ("a = \\u12\n", 1, "malformed \\uXXXX escape"),
    ("a = \\uD83D\n", 1, "half of a surrogate pair"),
    ("params. = x\n", 1, "empty name between dots"),
    ("params.a..b = x\n", 1, "empty name between dots"),
    ("params.a = 1\nparams.a.b = 2\n", 2, "params.a.b needs params.a to be an object, but line 1"),
    ("params.a.b.c = 1\nparams.a.b = 2\n", 2, "params.a.b is given a value, but line 1 uses it"),
    ("secrets.bad/key = x\n", 1, "invalid secret key 'bad/key'"),
    ("secrets. = x\n", 1, "invalid secret key ''"),
])
def test_bad_lines_are_refused_with_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DigError) as e:
        parse_config(text, "my.config")
    assert str(e.value).startswith(f"my.config:{line}: ")
    assert message in str(e.value)


def test_params_secrets_and_settings() -> None:
    config = parse_config("params.env = prod\nparams.db.host = h\nparams.db.port = 5432\n"
                          "params.env = staging\nsecrets.db.password = pw\nsecrets.token: t\n"
                          "server.bind = 0.0.0.0\ndatabase.type = postgresql\nparams = top\n", "c")
    assert config.params == {"env": "staging", "db": {"host": "h", "port": "5432"}}
    assert config.secrets == {"db.password": "pw", "token": "t"}
    assert config.settings == {"server.bind": "0.0.0.0", "database.type": "postgresql",
                               "params": "top"}


def test_precedence_config_then_files_then_p(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("b: 2\nn: {y: 20}\n")
    base = {"a": "c", "b": "c", "c": "c", "n": {"x": "c", "y": "c"}}
    params = build_params(("c=3",), (str(tmp_path / "p.yml"),), base=base)
    assert params == {"a": "c", "b": 2, "c": "3", "n": {"x": "c", "y": 20}}
    assert base["n"] == {"x": "c", "y": "c"}  # not changed in place


def test_default_paths_and_loading(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    ours, digdags = default_paths(env)
    assert (ours, digdags) == (tmp_path / "dockerflow" / "config", tmp_path / "digdag" / "config")
    assert load_config(None, env).path is None
    digdags.parent.mkdir()
    digdags.write_text("params.x = d\n")
    assert load_config(None, env).params == {"x": "d"}
    ours.parent.mkdir()
    ours.write_text("params.y = o\n")
    loaded = load_config(None, env)
    assert (loaded.path, loaded.params) == (ours, {"y": "o"})
    with pytest.raises(UserInputError, match="-c nope: file not found"):
        load_config("nope", env)
    (tmp_path / "latin1").write_bytes(b"params.x = \xe9\n")
    with pytest.raises(DigError, match="latin1: not UTF-8"):
        load_config(tmp_path / "latin1", env)
