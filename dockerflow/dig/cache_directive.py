"""The `_cache` directive as written: `{inputs: [globs], outputs: [globs]}` or `false`,
validated where it is written (the compiler) and again, after `${...}`, when a task runs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

from dockerflow.dig.words import did_you_mean, kind_of

CACHE_KEYS = ("inputs", "outputs")
STATE_DIR = ".dockerflow"


def parse_cache_value(value: Any, fail: Callable[..., Exception],
                      depth: int | None = None) -> dict[str, list[str]] | bool:
    """`_cache` as written -> `{"inputs": [...], "outputs": [...]}` (both keys always, so a
    nearer `_cache` replaces an inherited one whole) or False (`_cache: false`: off).

    `depth`: how many folders below the project the task's folder is (None: unknown), to
    refuse `..` that leaves the project; `${...}` globs are checked when the task runs.
    `fail(message)` or `fail(message, mapping, key)` (the key at fault) makes the error."""
    if value is False:
        return False
    if not isinstance(value, Mapping):
        raise fail("_cache must be a mapping {inputs: [globs], outputs: [globs]}, or false to"
                   f" turn an inherited _cache off; got {kind_of(value)}")
    for key in value:
        if key not in CACHE_KEYS:
            raise fail(f"Unknown key '{key}' in _cache" + did_you_mean(str(key), CACHE_KEYS)
                       + "; only 'inputs' and 'outputs'", value, key)
    out: dict[str, list[str]] = {}
    for key in CACHE_KEYS:
        items = value.get(key)
        if items is None:
            items = []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise fail(f"_cache {key} must be a list of glob strings (relative to the task's"
                       f" folder), e.g. {key}: [src/**/*.py]; got {kind_of(items)}", value, key)
        for pattern in items:
            check_glob(pattern, key, functools.partial(_fail_at, fail, value, key), depth)
        out[key] = list(items)
    return out


def _fail_at(fail: Callable[..., Exception], node: Any, key: str, message: str) -> Exception:
    return fail(message, node, key)


def check_glob(pattern: str, key: str, fail: Callable[[str], Exception],
               depth: int | None) -> None:
    if not pattern.strip():
        raise fail(f"_cache {key}: an empty glob")
    if "${" in pattern:
        return  # evaluated per task; checked then
    if pattern.startswith(("/", "~")):
        raise fail(f"_cache {key}: '{pattern}' must be relative to the task's folder")
    level = 0
    lowest = 0
    for part in PurePosixPath(pattern).parts:
        if part == "..":
            level -= 1
        elif part not in (".", "**"):
            level += 1
        lowest = min(lowest, level)
    if depth is not None and lowest < -depth:
        raise fail(f"_cache {key}: '{pattern}' leaves the project folder")
    if PurePosixPath(pattern).parts[:1] == (STATE_DIR,) and depth == 0:
        raise fail(f"_cache {key}: '{pattern}' is in {STATE_DIR}/, dockerflow's own state")
