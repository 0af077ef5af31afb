"""Splitting text into literal parts and `${...}` expressions (pure Python, cached).

Rules (Digdag's):
- `${` runs to the matching `}`; nested braces are counted and braces inside JavaScript string
  literals ('...', "...", `...`) are ignored.
- `$$` is an escaped `$`; any other lone `$` stays as it is.
- An unclosed `${` leaves the rest of the text untouched.
- `${word:` (lowercase letters and a colon, e.g. `${secret:key}`) is not an expression: it is kept
  as it is for the operators that resolve it, but `${...}` nested inside it are evaluated, so
  `${secret:${name}}` becomes `${secret:<value of name>}`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_SKIPPED_PREFIX = re.compile(r"[a-z]+:")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_QUOTES = "'\"`"
_BEFORE_REGEX = frozenset("(,=:[!&|?{};+-*%<>~^")


def has_template(text: str) -> bool:
    """Cheap check: False means `render(text)` returns `text` unchanged.

    True may still leave the text unchanged (e.g. an unclosed `${`, or `${secret:...}`).
    """
    return "$" in text and ("${" in text or "$$" in text)


@dataclass(frozen=True, slots=True)
class Template:
    """`parts` alternate literal text and expression code: lit, code, lit, ..., code, lit."""

    parts: tuple[str, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return self.parts[1::2]

    @property
    def is_literal(self) -> bool:
        return len(self.parts) == 1


def _skip_string(text: str, i: int) -> int:
    """Index just past the string literal opening at text[i], or -1 if it never closes."""
    quote = text[i]
    i += 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i + 1
        i += 1
    return -1


def _skip_regex(text: str, i: int) -> int:
    """Index just past the regular-expression literal opening at text[i], or -1."""
    i += 1
    n = len(text)
    in_class = False
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "\n":
            return -1
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            return i + 1
        i += 1
    return -1


def _find_close(text: str, i: int, aware: bool = True) -> int:
    """Index of the `}` closing an expression whose code starts at text[i], or -1.

    With `aware`, braces inside string and regular-expression literals are not counted.
    """
    depth = 1
    n = len(text)
    previous = "("  # last significant character: decides whether "/" starts a regex
    while i < n:
        c = text[i]
        if aware and c in _QUOTES:
            i = _skip_string(text, i)
            if i < 0:
                return -1
            previous = '"'
            continue
        if aware and c == "/" and previous in _BEFORE_REGEX:
            end = _skip_regex(text, i)
            if end > 0:
                i = end
                previous = "/"
                continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        if not c.isspace():
            previous = c
        i += 1
    return -1


@functools.lru_cache(maxsize=16384)
def parse(text: str) -> Template:
    """Split `text` into literal parts and expression codes."""
    parts: list[str] = []
    literal: list[str] = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:j])
        follower = text[j + 1 : j + 2]
        if follower == "$":
            literal.append("$")
            i = j + 2
            continue
        if follower != "{":
            literal.append("$")
            i = j + 1
            continue
        skipped = _SKIPPED_PREFIX.match(text, j + 2)
        if skipped:
            literal.append(text[j : skipped.end()])
            i = skipped.end()
            continue
        end = _find_close(text, j + 2)
        if end < 0:  # perhaps a lone quote that is not JavaScript: count braces only
            end = _find_close(text, j + 2, aware=False)
        if end < 0:
            literal.append(text[j:])
            break
        parts.append("".join(literal))
        parts.append(text[j + 2 : end])
        literal = []
        i = end + 1
    parts.append("".join(literal))
    return Template(tuple(parts))


@functools.lru_cache(maxsize=16384)
def names_in(template: Template) -> frozenset[str]:
    """Every identifier-like word in the template's code (a superset of the variables read)."""
    return frozenset(name for code in template.codes for name in _IDENTIFIER.findall(code))
