"""Digdag's configuration file: `params.*`, `secrets.*` and settings, in Java-properties lines.

    # ~/.config/dockerflow/config (or Digdag's ~/.config/digdag/config)
    params.env = staging              ->  params {"env": "staging"}
    params.db.host = localhost        ->  params {"db": {"host": "localhost"}}
    secrets.db.password = s3cr3t      ->  ${secret:db.password}
    server.port = 65432               ->  settings: kept for the server, ignored by `run`

`dockerflow run -c FILE` reads FILE; without -c the first default file that exists is read
(`default_paths`). The server will read its settings from `Config.settings`.

The syntax is the part of Java's `Properties` format that Digdag's files use: `KEY = VALUE`
or `KEY: VALUE` (spaces around the separator are dropped, the rest of the line is the
value), comment lines starting with `#` or `!`, blank lines, a backslash at the end of a line
to continue it, and the escapes `\\t \\n \\r \\f \\uXXXX` (a backslash before any other
character keeps the character, so `\\=` and `\\:` go in keys). Unlike Java, a line without
`=` or `:` is refused instead of read as a key with an empty value, and so are keys that
can't be a param or secret name; the error is `FILE:LINE: message`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockerflow.errors import DigError, UserInputError
from dockerflow.secrets import KEY_RE

PARAMS_PREFIX = "params."
SECRETS_PREFIX = "secrets."


@dataclass
class Config:
    """One configuration file, read. `path` is None when there was none to read."""

    path: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)  # nested, values are strings
    secrets: dict[str, str] = field(default_factory=dict)  # flat: "db.password"
    settings: dict[str, str] = field(default_factory=dict)  # every other key, flat


def config_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base)


def default_paths(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where the configuration is looked for without -c, in order; only the first file that
    exists is read: ours, then Digdag's (so a Digdag user's file keeps working)."""
    home = config_home(env)
    return [home / "dockerflow" / "config", home / "digdag" / "config"]


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (it must exist), or else the first default file that exists, or nothing.
    Raises UserInputError (`FILE:LINE: message`) for a missing -c file or a bad line."""
    if path is not None:
        explicit = Path(path)
        if not explicit.is_file():
            raise UserInputError(f"-c {path}: file not found")
        return read_config(explicit)
    for candidate in default_paths(env):
        if candidate.is_file():
            return read_config(candidate)
    return Config()


def read_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DigError(f"not UTF-8 text ({e.reason} at byte {e.start})", str(path)) from None
    except OSError as e:
        raise DigError(f"cannot read: {e.strerror or e}", str(path)) from None
    return parse_config(text, str(path), path)


def parse_config(text: str, source: str, path: Path | None = None) -> Config:
    config = Config(path=path)
    where: dict[tuple[str, ...], tuple[int, bool]] = {}  # params key path -> (line, is a value)
    for line, key, value in parse_properties(text, source):
        if key.startswith(PARAMS_PREFIX):
            _set_param(config.params, key[len(PARAMS_PREFIX):], value, where, source, line)
        elif key.startswith(SECRETS_PREFIX):
            name = key[len(SECRETS_PREFIX):]
            if not KEY_RE.match(name):
                raise DigError(f"invalid secret key {name!r}: use letters, digits, _ - .",
                               source, line)
            config.secrets[name] = value
        else:
            config.settings[key] = value  # server.*, database.*...: the server's, later
    return config


def _set_param(params: dict[str, Any], dotted: str, value: str,
               where: dict[tuple[str, ...], tuple[int, bool]], source: str, line: int) -> None:
    parts = tuple(dotted.split("."))
    if not dotted or any(not p for p in parts):
        raise DigError(f"invalid param key 'params.{dotted}': empty name between dots",
                       source, line)
    for i in range(1, len(parts)):
        seen = where.get(parts[:i])
        if seen and seen[1]:
            raise DigError(f"params.{dotted} needs params.{'.'.join(parts[:i])} to be an"
                           f" object, but line {seen[0]} gives it a value", source, line)
    seen = where.get(parts)
    if seen and not seen[1]:
        raise DigError(f"params.{dotted} is given a value, but line {seen[0]} uses it as an"
                       f" object (params.{dotted}.*)", source, line)
    node = params
    for i, part in enumerate(parts[:-1]):
        where.setdefault(parts[:i + 1], (line, False))
        node = node.setdefault(part, {})
    node[parts[-1]] = value  # the last line with a key wins, as in Java
    where[parts] = (line, True)


def parse_properties(text: str, source: str) -> list[tuple[int, str, str]]:
    """(line number, key, value) for each property, in file order."""
    out: list[tuple[int, str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        start = i
        logical = lines[i].lstrip(" \t\f")
        i += 1
        if not logical or logical[0] in "#!":
            continue
        while _continues(logical) and i < len(lines):
            logical = logical[:-1] + lines[i].lstrip(" \t\f")
            i += 1
        if _continues(logical):
            logical = logical[:-1]  # a backslash on the last line continues into nothing
        key, value = _split(logical, source, start + 1)
        out.append((start + 1, key, value))
    return out


def _continues(line: str) -> bool:
    """An odd number of backslashes at the end joins the next line."""
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _split(line: str, source: str, number: int) -> tuple[str, str]:
    n = len(line)
    pos = 0
    while pos < n and line[pos] not in "=: \t\f":
        pos += 2 if line[pos] == "\\" else 1
    pos = min(pos, n)
    raw_key = line[:pos]
    rest = line[pos:].lstrip(" \t\f")
    if not rest or rest[0] not in "=:":
        raise DigError(f"expected KEY = VALUE, got {line.strip()!r}", source, number)
    raw_value = rest[1:].lstrip(" \t\f")
    key = _unescape(raw_key, source, number)
    if not key:
        raise DigError(f"the key before {rest[0]!r} is empty", source, number)
    return key, _unescape(raw_value, source, number)


ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str, source: str, number: int) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2:i + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise DigError(f"malformed \\uXXXX escape: {text[i:i + 6]!r}", source, number)
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(ESCAPES.get(nxt, nxt))
        i += 2
    try:  # \uD83D\uDE00 (a surrogate pair, as Java writes it) is one character
        return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise DigError("a \\uXXXX escape is half of a surrogate pair", source, number) from None
