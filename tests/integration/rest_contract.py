"""Checks a JSON response against the fields Digdag's real clients require.

tests/data/rest-api-models.json (a copy of the contract) has, per model and field, the
contract type and what the Java client (the digdag CLI and UI), digdag-py and the Go client
need: R = present and not null. Every field of a model must be present (optionals as null);
a field any client requires must not be null; each value must have its contract type.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MODELS: dict[str, dict[str, list[str]]] = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "rest-api-models.json").read_text())["models"]

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
OFFSET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def check(model: str, value: Any, where: str = "") -> None:
    where = where or model
    fields = MODELS[model]
    assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
    for name, (kind, *clients) in fields.items():
        assert name in value, f"{where}.{name} is missing (optional fields are written as null)"
        item = value[name]
        if item is None:
            assert "R" not in clients[:2], f"{where}.{name} is null, but a client requires it"
            continue
        check_type(kind, item, f"{where}.{name}")
        if len(clients) > 2:
            check_go(clients[2], item, f"{where}.{name}")


GO_TYPES: dict[str, Any] = {"string": str, "int": int, "bool": bool, "struct": dict, "map": dict,
                            "list": list}


def check_go(go: str, item: Any, where: str) -> None:
    """The Go client decodes into fixed types: a value of another JSON type fails its call."""
    if go in GO_TYPES:
        assert isinstance(item, GO_TYPES[go]) and not (go == "int" and isinstance(item, bool)), \
            f"{where}: the Go client decodes a {go}: {item!r}"
    elif go == "time":
        assert isinstance(item, str) and (INSTANT.match(item) or OFFSET_TIME.match(item)), \
            f"{where}: the Go client parses RFC 3339: {item!r}"
    elif go == "[]string":
        assert isinstance(item, list) and all(isinstance(i, str) for i in item), f"{where}: Go []string: {item!r}"
    elif go == "map[string]string":
        assert isinstance(item, dict) and all(isinstance(v, str) for v in item.values()), \
            f"{where}: Go map[string]string: {item!r}"


def check_type(kind: str, item: Any, where: str) -> None:
    if kind == "id":
        assert isinstance(item, str) and item.isdigit(), f"{where}: an id must be a digit string: {item!r}"
    elif kind == "instant":
        assert isinstance(item, str) and INSTANT.match(item), f"{where}: not an instant: {item!r}"
    elif kind == "offset_time":
        assert isinstance(item, str) and OFFSET_TIME.match(item), f"{where}: not an offset time: {item!r}"
    elif kind == "uuid":
        assert isinstance(item, str) and UUID.match(item), f"{where}: not a uuid: {item!r}"
    elif kind == "base64":
        assert isinstance(item, str) and BASE64.match(item), f"{where}: not base64: {item!r}"
    elif kind in ("str", "zone"):
        assert isinstance(item, str), f"{where}: not a string: {item!r}"
    elif kind == "int":
        assert isinstance(item, int) and not isinstance(item, bool), f"{where}: not an int: {item!r}"
    elif kind == "bool":
        assert isinstance(item, bool), f"{where}: not a bool: {item!r}"
    elif kind == "object":
        assert isinstance(item, dict), f"{where}: not an object: {item!r}"
    elif kind.startswith("list:"):
        assert isinstance(item, list), f"{where}: not a list: {item!r}"
        for i, element in enumerate(item):
            check_type(kind[5:], element, f"{where}[{i}]")
    elif kind.startswith("model:"):
        check(kind[6:], item, where)
    else:
        raise AssertionError(f"{where}: unknown contract type {kind!r}")
