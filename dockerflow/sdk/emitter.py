"""Plain data (dicts, lists, scalars) to YAML text that Digdag's dialect reads back as is.

The output is block style with two-space indents; short lists of scalars go on one line in
flow style (`[a, b]`); multi-line strings become literal blocks (`|`).  A string is written
plain only when no YAML reader could take it for anything else: strings that look like
numbers, booleans, nulls, times or dates in YAML 1.1 *or* in Digdag's dialect (`0.5`,
`10:30:00`, `yes`, `~`, `2024-01-01`), that start with an indicator (`*&!|>%@'"` ...) or that
hold `: ` or ` #` are quoted.  Floats are written so that the dialect reads floats (`.5`, not
`0.5`, which it reads as a string).  The same data always gives the same bytes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dump", "format_scalar"]

FLOW_WIDTH = 88
"""Lists of scalars are written on one line when the line stays within this width."""

_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_CHARS = frozenset(",[]{}:#")
_SPECIAL_WORDS = frozenset({
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "<<", "=",
})
_NUMERIC_START = re.compile(r"^[-+]?\.?[0-9]|^[-+]?\.(inf|nan)$", re.IGNORECASE)


def _printable(text: str) -> bool:
    return all(ch == " " or ch.isprintable() for ch in text)


def _plain_ok(text: str, flow: bool) -> bool:
    """Whether `text` can be written without quotes and read back as the same string."""
    if not text or text != text.strip() or not _printable(text):
        return False
    if text[0] in _INDICATORS and not (text[0] == "-" and len(text) > 1 and text[1] != " "
                                       and not text.startswith("---")):
        return False
    if text.startswith("...") or text.lower() in _SPECIAL_WORDS:
        return False
    if _NUMERIC_START.match(text):  # numbers, times (10:30:00), dates; quoting is harmless
        return False
    if ": " in text or " #" in text or text.endswith(":"):
        return False
    if flow and any(ch in _FLOW_CHARS for ch in text):
        return False
    return True


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def _double_quoted(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or (ch.isprintable() and ch != "\ufeff"):
            out.append(ch)
        else:
            code = ord(ch)
            if code <= 0xFF:
                out.append(f"\\x{code:02x}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _float_text(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        text = f"{mantissa}e{exponent}"
    sign = "-" if text.startswith("-") else ""
    body = text.lstrip("-")
    if body.startswith("0."):  # the dialect reads 0.5 as a string; .5 is a float
        body = body[1:]
    return sign + body


def format_scalar(value: Any, flow: bool = False) -> str:
    """One scalar as it is written on a single line (`flow`: inside `[...]`)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} values to a .dig file")
    if _plain_ok(value, flow):
        return value
    if _printable(value):
        if "'" in value and '"' not in value and "\\" not in value:
            return _double_quoted(value)
        return _single_quoted(value)
    return _double_quoted(value)


def _literal_lines(text: str) -> tuple[str, list[str]] | None:
    """(`|` header, content lines) for a multi-line string, or None if a literal block
    cannot hold it exactly."""
    if "\n" not in text or not all(ch in "\n\t" or ch == " " or ch.isprintable()
                                   for ch in text if ch != "\ufeff") or "\ufeff" in text:
        return None
    if text.endswith("\n\n"):
        header = "|+"
    elif text.endswith("\n"):
        header = "|"
    else:
        header = "|-"
    content = text[:-1] if text.endswith("\n") else text
    lines = content.split("\n")
    first = next((line for line in lines if line), None)
    if first is None or first[0] in " \t":
        return None
    for line in lines:
        if line and (line[0] == "\t" or not line.strip()):
            return None
    return header, lines


def _flow_list(items: list[Any]) -> str | None:
    if any(isinstance(item, (Mapping, list, tuple)) for item in items):
        return None
    return "[" + ", ".join(format_scalar(item, flow=True) for item in items) + "]"


def _key_text(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be strings, got {key!r}")
    return format_scalar(key)


def _entry(prefix: str, value: Any, indent: int, out: list[str]) -> None:
    """Write `prefix` (`key:` or `-`) followed by `value`, nested blocks at `indent + 2`."""
    if isinstance(value, Mapping):
        if not value:
            out.append(prefix + " {}")
        else:
            out.append(prefix)
            _mapping(value, indent + 2, out)
    elif isinstance(value, (list, tuple)):
        items = list(value)
        flow = _flow_list(items) if items else "[]"
        if flow is not None and (not items or len(prefix) + 1 + len(flow) <= FLOW_WIDTH):
            out.append(prefix + " " + flow)
        else:
            out.append(prefix)
            _sequence(items, indent + 2, out)
    elif isinstance(value, str) and (literal := _literal_lines(value)) is not None:
        header, lines = literal
        out.append(prefix + " " + header)
        pad = " " * (indent + 2)
        out.extend(pad + line if line else "" for line in lines)
    else:
        out.append(prefix + " " + format_scalar(value))


_SIMPLE_KEY_MAX = 1000
"""YAML readers refuse implicit keys longer than 1024 characters; longer ones get `? `."""


def _mapping(mapping: Mapping[str, Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in mapping.items():
        text = _key_text(key)
        if len(text) > _SIMPLE_KEY_MAX:
            out.append(pad + "? " + text)
            _entry(pad + ":", value, indent, out)
        else:
            _entry(pad + text + ":", value, indent, out)


def _sequence(items: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, Mapping) and item:
            sub: list[str] = []
            _mapping(item, indent + 2, sub)
            sub[0] = pad + "- " + sub[0][indent + 2:]
            out.extend(sub)
        elif isinstance(item, (list, tuple)) and item and (
                _flow_list(list(item)) is None
                or len(pad) + 2 + len(_flow_list(list(item)) or "") > FLOW_WIDTH):
            sub = []
            _sequence(list(item), indent + 2, sub)
            sub[0] = pad + "- " + sub[0][indent + 2:]
            out.extend(sub)
        else:
            _entry(pad + "-", item, indent, out)


def dump(document: Mapping[str, Any], spaced: bool = True) -> str:
    """The YAML text of a top-level mapping, ending with a newline.

    With `spaced`, a blank line separates top-level entries that span several lines from
    their neighbours, the way `.dig` files are usually laid out.
    """
    if not document:
        return "{}\n"
    blocks: list[list[str]] = []
    for key, value in document.items():
        lines: list[str] = []
        _mapping({key: value}, 0, lines)
        blocks.append(lines)
    out: list[str] = []
    for i, lines in enumerate(blocks):
        before = blocks[i - 1] if i else []
        # a blank line after a `|+` block would become part of its text
        keeps = any(line.endswith("|+") for line in before)
        if spaced and i > 0 and (len(lines) > 1 or len(before) > 1) and not keeps:
            out.append("")
        out.extend(lines)
    return "\n".join(out) + "\n"
