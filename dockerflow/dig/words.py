"""Small helpers for messages about what a user wrote: a did-you-mean, a value's kind."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any


def did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def kind_of(value: Any) -> str:
    """'a list', 'a mapping', 'nothing'...: a value's kind, for messages."""
    for kind, text in ((bool, "a boolean"), (str, "a string"), (int, "a number"),
                       (float, "a number"), (list, "a list"), (Mapping, "a mapping")):
        if isinstance(value, kind):
            return text
    return "nothing" if value is None else type(value).__name__
