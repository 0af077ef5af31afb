"""Parsing of `-p KEY=VALUE`, `-P file` and `--session` values, over the config file's params."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from dockerflow.dig.schedule import previous_slot
from dockerflow.dig.yaml_loader import load_file
from dockerflow.errors import UserInputError
from dockerflow.graph.spec import Schedule
from dockerflow.runtime.params import deep_merge
from dockerflow.timeutil import parse_session_time, parse_zone


def split_param(text: str) -> list[tuple[str, str]]:
    """`a=1,b=2` is two params; `a=x,y` keeps "x,y" (a part without '=' joins the previous)."""
    if "=" not in text:
        raise UserInputError(f"-p {text!r}: expected KEY=VALUE")
    parts: list[str] = []
    for piece in text.split(","):
        if "=" in piece or not parts:
            parts.append(piece)
        else:
            parts[-1] += "," + piece
    out = []
    for part in parts:
        key, _, value = part.partition("=")
        if not key:
            raise UserInputError(f"-p {text!r}: the key before '=' is empty")
        out.append((key, value))
    return out


def nest(key: str, value: Any) -> dict[str, Any]:
    """`a.b` = c  ->  {"a": {"b": c}}."""
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    return out


def build_params(pairs: tuple[str, ...], files: tuple[str, ...],
                 base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Digdag's order, each over the one before: `base` (the config file's `params.*`), the
    `-P` files in order, then the `-p` values."""
    params: dict[str, Any] = deep_merge({}, base or {})
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise UserInputError(f"-P {f}: file not found")
        deep_merge(params, load_file(path))
    for text in pairs:
        for key, value in split_param(text):
            deep_merge(params, nest(key, value))
    return params


def resolve_session(value: str | None, timezone: str, schedule: Schedule | None,
                    last_used: str | None, now: datetime | None = None) -> datetime:
    zone = parse_zone(timezone)
    now = (now or datetime.now(zone)).astimezone(zone)
    value = value or "last"
    if value == "last":
        if last_used:
            return datetime.fromisoformat(last_used).astimezone(zone)
        if schedule is not None:
            return previous_slot(schedule, now, inclusive=True)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "daily":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "hourly":
        return now.replace(minute=0, second=0, microsecond=0)
    if value == "schedule":
        if schedule is None:
            raise UserInputError("--session schedule needs a workflow with a schedule:")
        return previous_slot(schedule, now, inclusive=True)
    try:
        return parse_session_time(value, zone)
    except ValueError as e:
        raise UserInputError(f"--session: {e}; or use daily, hourly, last") from None
