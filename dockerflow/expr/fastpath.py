"""Evaluating the commonest expressions (`${name}`, `${a.b.c}`) without entering JavaScript.

Only cases whose JavaScript result is certain are handled here: every step of the path must be
a key present in a dict, and the value a string, boolean, null, or a number whose JavaScript
text equals Python's. Anything else returns None and the caller falls back to JavaScript, which
also produces the errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_PATH_RE = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\Z", re.ASCII)

# Words that JavaScript reads as something other than a variable.
_KEYWORDS = frozenset(
    """break case catch class const continue debugger default delete do else enum export extends
    false finally for function if import in instanceof let new null return static super switch
    this throw true try typeof var void while with yield await implements interface package
    private protected public arguments eval""".split()
)

_MAX_SAFE_INT = 2**53


def simple_path(code: str) -> tuple[str, ...] | None:
    """("a", "b") for code `a.b`; None when the code is anything but a plain dotted name."""
    if not _PATH_RE.match(code):
        return None
    path = tuple(code.split("."))
    if path[0] in _KEYWORDS:
        return None
    return path


def js_text(value: Any) -> str | None:
    """What `${value}` prints, when that is certain without JavaScript; else None."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value) if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT else None
    if isinstance(value, float) and math.isfinite(value):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        text = repr(value)  # shortest round-trip digits, like JavaScript
        return text if "e" not in text else None
    return None


_MISSING = object()


def lookup(
    path: tuple[str, ...], overlay: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> str | None:
    """The text of `path` in overlay-then-params scope, or None to ask JavaScript."""
    value: Any = _MISSING
    if overlay is not None:
        value = overlay.get(path[0], _MISSING)
    if value is _MISSING:
        value = params.get(path[0], _MISSING)
        if value is _MISSING:
            return None
    for key in path[1:]:
        if type(value) is not dict:
            return None
        value = value.get(key, _MISSING)
        if value is _MISSING:
            return None
    return js_text(value)
