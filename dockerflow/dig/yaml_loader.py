"""Digdag's strict YAML dialect, read with source positions.

`load_file` / `load_text` return a `PosMap`: a dict that also knows the file and line it came
from, and the file and line of each of its keys, so that later stages can report `file:line`.

The dialect (dig-spec §1.1, which follows Digdag's `YamlTagResolver` and
`StrictSafeConstructor`):

* Booleans are only ``true True false False``; ``yes no on off y n TRUE`` stay strings.
* No timestamps: ``2016-01-01`` and ``2016-01-01 10:00:00`` stay strings.
* Ints never contain colons (``10:00:00`` is a string).  Decimal, octal ``0[0-7_]+``, hex
  ``0x..`` and binary ``0b..`` ints remain; ``_`` separators are allowed.
* Floats must not start with ``0``: ``0.5`` is the string ``"0.5"``; ``.5``, ``1.5``, ``1e3``,
  ``1.5e-3``, ``.inf``, ``-.inf`` and ``.nan`` are floats.  Like Digdag, a sexagesimal float
  with a fraction (``1:30.5``) is still a float (90.5).
* ``null``, ``Null``, ``NULL``, ``~`` and an empty value are None.
* Duplicate keys are errors at every depth (compared after converting keys to strings).
* Keys are always strings: ``1:`` gives ``"1"``, ``true:`` gives ``"true"``, ``0x1F:`` gives
  ``"31"`` (Digdag turns the key's *value* into a JSON key).  A null key, or a list or
  mapping used as a key, is refused.
* ``<<`` merge keys work as in SnakeYAML (``<<: *defaults`` or ``<<: [*a, *b]``): shallow,
  keys written in the mapping itself win, the first merged mapping wins over later ones.
  Anchors and aliases work; every alias gives an independent copy of the data.
* ``!include : 'path'`` as a key: the included file's mapping is merged into the current
  mapping at that point, as Digdag does it.  Keys are handled in order and a later one wins;
  when an included key meets an *earlier* key and both values are mappings they are
  deep-merged (the included leaves win), otherwise the included value replaces the earlier
  one.  A key written *after* the include replaces the included value (no deep merge).
  Several ``!include :`` keys in one mapping are fine.
* ``key: !include 'path'`` (also a list item ``- !include 'path'``) puts the included file's
  content there; it is normally a mapping, but a list or a scalar is accepted too.
* Include paths are relative to the including file's directory (for `load_text`, the
  current directory), may not be absolute and may not leave that directory; an included file
  may include others relative to itself; cycles are refused.  Positions inside included
  content point at the included file.

Every problem raises `DigError(message, file, line)` with a 1-based line.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import yaml
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from dockerflow.errors import DigError

__all__ = ["PosMap", "PosList", "load_file", "load_text"]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_INCLUDE = "!include"

# Work done re-building aliased nodes before we call it an "alias bomb".
_ALIAS_BUDGET = 1_000_000
# libyaml's composer recurses in C: deeper than ~20000 levels it crashes the process.
# Below libyaml's own limit (1000 in PyYAML 6.0.4's), so that our message is the one shown.
_MAX_DEPTH = 500
_DEPTH_SCAN_THRESHOLD = 5000


# ------------------------------------------------------------------------------------------
# Result types


class PosMap(dict):
    """An insertion-ordered mapping of str keys that remembers where it was written.

    `file` and `line` (1-based) locate the mapping itself; `key_pos[key]` is the
    ``(file, line)`` where that key is written (keys merged in by `!include` point at the
    included file).
    """

    __slots__ = ("file", "line", "key_pos")

    def __init__(self, data: Any = (), file: str = "<string>", line: int = 1,
                 key_pos: dict[str, tuple[str, int]] | None = None) -> None:
        super().__init__(data)
        self.file = file
        self.line = line
        self.key_pos = dict(key_pos) if key_pos else {}

    def pos_of(self, key: str) -> tuple[str, int]:
        """Where `key` is written, or where this mapping starts if the key is unknown."""
        return self.key_pos.get(key, (self.file, self.line))

    def copy(self) -> PosMap:  # keep positions on shallow copies
        return PosMap(self, self.file, self.line, self.key_pos)

    def __repr__(self) -> str:
        return f"PosMap({dict.__repr__(self)}, file={self.file!r}, line={self.line})"


class PosList(list):
    """A list that remembers the file and 1-based line where it was written."""

    __slots__ = ("file", "line")

    def __init__(self, data: Any = (), file: str = "<string>", line: int = 1) -> None:
        super().__init__(data)
        self.file = file
        self.line = line

    def copy(self) -> PosList:
        return PosList(self, self.file, self.line)

    def __repr__(self) -> str:
        return f"PosList({list.__repr__(self)}, file={self.file!r}, line={self.line})"


# ------------------------------------------------------------------------------------------
# Implicit typing of plain scalars (Digdag's YamlTagResolver)

# Digdag's INT_EXCEPTING_COLON, except that "0b"/"0x" need a digit ("0x_" would crash it).
_INT_RE = re.compile(
    r"[-+]?0b_*[01][01_]*|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x_*[0-9a-fA-F][0-9a-fA-F_]*")
_FLOAT_RE = re.compile(
    r"[-+]?(?:\.[0-9]+|[1-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
    r"|[-+]?\.(?:inf|Inf|INF)"
    r"|\.(?:nan|NaN|NAN)")
_BOOLS = {"true": True, "True": True, "false": False, "False": False}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_NUMBER_START = frozenset("-+0123456789.")


def _resolve_plain(value: str) -> str:
    """The tag of a plain (unquoted, untagged) scalar."""
    if value in _NULLS:
        return _NULL
    if value in _BOOLS:
        return _BOOL
    if value[0] in _NUMBER_START:
        if _INT_RE.fullmatch(value):
            return _INT
        if _FLOAT_RE.fullmatch(value):
            return _FLOAT
    elif value == "<<":
        return _MERGE
    return _STR


class _DigResolver(BaseResolver):
    """Replaces PyYAML's YAML 1.1 implicit resolvers with Digdag's stricter ones."""

    yaml_implicit_resolvers: dict = {}
    yaml_path_resolvers: dict = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                return _resolve_plain(value)
            return _STR
        if kind is SequenceNode:
            return _SEQ
        return _MAP


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _CComposer(CParser, _DigResolver):
        """libyaml does the scanning, parsing and composing (fast); positions survive."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _DigResolver.__init__(self)
else:  # pragma: no cover - libyaml is installed in our environments
    _CComposer = None  # type: ignore[assignment,misc]


class _PyComposer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,
                  yaml.composer.Composer, _DigResolver):
    """Pure-Python fallback for when PyYAML was built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _DigResolver.__init__(self)


_Composer: type = _CComposer or _PyComposer  # type: ignore[truthy-function]


# ------------------------------------------------------------------------------------------
# Scalar construction


def _to_int(text: str) -> int:
    s = text.replace("_", "")
    sign = 1
    if s[:1] in "+-":
        if s[0] == "-":
            sign = -1
        s = s[1:]
    if s.startswith("0b"):
        return sign * int(s[2:], 2)
    if s.startswith("0x"):
        return sign * int(s[2:], 16)
    if len(s) > 1 and s[0] == "0":
        return sign * int(s, 8)
    if ":" in s:  # only reachable through an explicit !!int tag
        n = 0
        for part in s.split(":"):
            n = n * 60 + int(part)
        return sign * n
    return sign * int(s)


def _to_float(text: str) -> float:
    s = text.replace("_", "").lower()
    sign = 1.0
    if s[:1] in "+-":
        if s[0] == "-":
            sign = -1.0
        s = s[1:]
    if s == ".inf":
        return sign * math.inf
    if s == ".nan":
        return math.nan
    if ":" in s:
        n = 0.0
        for part in s.split(":"):
            n = n * 60 + float(part)
        return sign * n
    return sign * float(s)


def _to_bool(text: str) -> bool:
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    raise ValueError(text)


_EXPLICIT_SCALARS = {
    _STR: str,
    _INT: _to_int,
    _FLOAT: _to_float,
    _BOOL: _to_bool,
    _NULL: lambda text: None,
}


def _key_text(value: Any) -> str:
    """A scalar key as the JSON object key Digdag would make of it."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {_key_text(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return f"the string {value!r}"


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a scalar"


# ------------------------------------------------------------------------------------------
# Reading files and turning parser errors into DigErrors

_INCLUDE_NO_SPACE = re.compile(r"(?:^|[\s{\[,?-])!include:(?:\s|$)")
_HINTS = (
    ("mapping values are not allowed",
     "check the indentation, or quote a value that contains ': '"),
    ("could not find expected ':'",
     "a line is neither 'key: value' nor a list item; check the indentation and quotes"),
    ("found unexpected end of stream", "a quote or bracket is not closed"),
    ("found undefined alias", "define the anchor (&name) before using the alias (*name)"),
    ("found duplicate anchor", "give each anchor (&name) a different name"),
    ("expected a single document", "a .dig file holds one YAML document; remove the extra '---'"),
    ("did not find expected key", "check the indentation of this line and the lines above it"),
    ("expected <block end>", "check the indentation of this line and the lines above it"),
)


def _syntax_error(exc: yaml.YAMLError, file: str, text: str) -> DigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    if problem is None:  # ReaderError and friends
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        reason = getattr(exc, "reason", None) or str(exc)
        char = getattr(exc, "character", None)
        if isinstance(char, int):
            reason += f" (character #x{char:04x}); remove it or write it as an escape in a" \
                      " double-quoted string"
        return DigError(f"invalid YAML: {reason}", file, line)
    if mark is not None:
        # "!include: x" (no space) makes the tag "!include:" and breaks the structure.
        for number, row in enumerate(text.split("\n")[:mark.line + 1]):
            if _INCLUDE_NO_SPACE.search(row) and not row.lstrip().startswith("#"):
                return DigError("'!include:' needs a space before the colon: write "
                                "`!include : 'file.dig'`", file, number + 1)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    at = ""
    if context_mark is not None and mark is not None and context_mark.line != mark.line:
        at = f" at line {context_mark.line + 1}"
    if context and problem.startswith("but "):  # "expected X, but found Y"
        msg = f"invalid YAML: {context}{at}, {problem}"
    elif context:
        msg = f"invalid YAML: {problem} ({context}{at})"
    else:
        msg = f"invalid YAML: {problem}"
    hint = None
    if "cannot start any token" in problem and mark is not None:
        lines = text.split("\n")
        row = lines[mark.line] if mark.line < len(lines) else ""
        char = row[mark.column] if mark.column < len(row) else ""
        if char == "\t":
            hint = "tabs cannot be used for indentation in YAML; use spaces"
        elif char:
            hint = f"quote values that start with {char!r}"
    if hint is None:
        for needle, text_hint in _HINTS:
            if needle in problem or (context and needle in context):
                hint = text_hint
                break
    if hint:
        msg += f"; {hint}"
    return DigError(msg, file, mark.line + 1 if mark is not None else None)


def _read_text(path: str, display: str, where: tuple[str, int] | None = None) -> str:
    """The text of a file; `where` is the (file, line) of the !include that wants it."""
    if where:
        err_file, err_line = where
        what = f"included file '{display}' ({os.path.abspath(path)})"
    else:
        err_file, err_line = display, None
        what = "the file"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DigError(f"{what} does not exist", err_file, err_line) from None
    except IsADirectoryError:
        raise DigError(f"{what} is a directory, not a file", err_file, err_line) from None
    except OSError as e:
        raise DigError(f"cannot read {what}: {e.strerror or e}", err_file, err_line) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DigError(f"the file is not valid UTF-8 (byte 0x{data[e.start]:02x}); "
                       "save it as UTF-8", display, line) from None


def _check_depth(text: str, file: str) -> None:
    """Refuses absurdly deep nesting before libyaml's recursive composer overflows the C stack.

    Deep nesting needs many brackets (block nesting needs quadratic indentation), so only
    texts with many of them get this extra, non-recursive pass over the parser events.
    """
    if text.count("[") + text.count("{") <= _DEPTH_SCAN_THRESHOLD:
        return
    parser = CParser(text)
    depth = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > _MAX_DEPTH:
                    raise DigError(f"the data is nested more than {_MAX_DEPTH} levels deep",
                                   file, event.start_mark.line + 1)  # type: ignore[union-attr]
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        # The scanner may give up on deep nesting before any event says so (libyaml's own
        # limit and wording vary by release): measure the brackets ourselves.
        deepest, line = _bracket_depth(text)
        if deepest > _MAX_DEPTH:
            raise DigError(f"the data is nested more than {_MAX_DEPTH} levels deep", file,
                           line) from None
        # otherwise the composer reports it with the usual message


def _too_deep(exc: yaml.YAMLError, file: str, text: str) -> DigError | None:
    """Our refusal when the parser gave up because of deep nesting, whatever its wording:
    block nesting shows as deep indentation at the line it stopped, flow nesting as brackets."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        row = text.split("\n", mark.line + 1)[mark.line] if text.count("\n") >= mark.line else ""
        if len(row) - len(row.lstrip(" ")) >= _MAX_DEPTH:
            return DigError("the data is nested too deeply here (YAML allows about 1000"
                            " levels); flatten the structure", file, mark.line + 1)
    deepest, line = _bracket_depth(text)
    if deepest > _MAX_DEPTH:
        return DigError(f"the data is nested more than {_MAX_DEPTH} levels deep", file, line)
    return None


def _bracket_depth(text: str) -> tuple[int, int]:
    """The deepest flow nesting ([ and {) outside quotes and comments, and its line."""
    depth = deepest = 0
    line = at = 1
    quote = ""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "[{":
            depth += 1
            if depth > deepest:
                deepest, at = depth, line
        elif c in "]}":
            depth -= 1
        i += 1
    return deepest, at


def _compose(text: str, file: str) -> Node | None:
    if _Composer is _CComposer:
        _check_depth(text, file)
    try:
        composer = _Composer(text)
        try:
            return composer.get_single_node()
        finally:
            dispose = getattr(composer, "dispose", None)
            if dispose is not None:
                dispose()
    except yaml.YAMLError as e:
        raise _too_deep(e, file, text) or _syntax_error(e, file, text) from None
    except RecursionError:  # the pure-Python composer
        raise DigError("the data is nested too deeply", file, None) from None


# ------------------------------------------------------------------------------------------
# Building values from nodes


class _Shared:
    """State shared by one top-level load and all the files it includes."""

    __slots__ = ("alias_work",)

    def __init__(self) -> None:
        self.alias_work = 0


class _Builder:
    """Builds values from the node tree of one file."""

    def __init__(self, file: str, base_dir: str, chain: tuple[tuple[str, str], ...],
                 shared: _Shared) -> None:
        self.file = file            # display name, used in positions and errors
        self.base_dir = base_dir    # absolute directory includes are relative to
        self.chain = chain          # (realpath, display) of the files being included, outer first
        self.shared = shared
        self.active: set[int] = set()  # collection nodes being built (alias recursion check)
        self.seen: set[int] = set()    # collection nodes built once (later: alias expansions)

    # -- generic --------------------------------------------------------------------------
    def build(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        key = id(node)
        if key in self.active:
            raise DigError("an alias (*name) refers to a node that contains it; "
                           ".dig files cannot be recursive", self.file, node.start_mark.line + 1)
        if key in self.seen:  # built before: we are expanding an alias
            shared = self.shared
            shared.alias_work += len(node.value) + 1
            if shared.alias_work > _ALIAS_BUDGET:
                raise DigError("aliases (*name) expand to too much data; "
                               "use fewer nested aliases", self.file, node.start_mark.line + 1)
        else:
            self.seen.add(key)
        self.active.add(key)
        try:
            if isinstance(node, MappingNode):
                if node.tag != _MAP:
                    self._bad_tag(node)
                return self.mapping(node)
            if node.tag != _SEQ:
                self._bad_tag(node)
            return PosList([self.build(item) for item in node.value],
                           self.file, node.start_mark.line + 1)
        finally:
            self.active.discard(key)

    def _bad_tag(self, node: Node) -> None:
        tag = node.tag
        line = node.start_mark.line + 1
        if tag == _INCLUDE:
            raise DigError(f"!include needs a file path, not {_node_kind(node)}; "
                           "write `key: !include 'file.dig'`", self.file, line)
        if tag.startswith(_INCLUDE):
            raise DigError(f"unknown tag '{tag}'; to include a file as keys, write "
                           "`!include : 'file.dig'` with a space before the colon",
                           self.file, line)
        if tag.startswith("tag:yaml.org,2002:"):
            raise DigError(f"'!!{tag[18:]}' cannot be used on {_node_kind(node)}",
                           self.file, line)
        raise DigError(f"unknown tag '{tag}'; .dig files support only !include",
                       self.file, line)

    def scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        text = node.value
        if tag == _STR:
            return text
        if tag == _NULL:
            return None
        if tag == _BOOL and text in _BOOLS:
            return _BOOLS[text]
        if tag == _MERGE:  # "<<" that is not a key
            return text
        if tag == _INCLUDE:
            return self.include_value(node)
        convert = _EXPLICIT_SCALARS.get(tag)
        if convert is None:
            self._bad_tag(node)
        try:
            return convert(text)  # type: ignore[operator]
        except ValueError:
            raise DigError(f"'{text}' is not a valid !!{tag[18:]}", self.file,
                           node.start_mark.line + 1) from None

    # -- mappings -------------------------------------------------------------------------
    def mapping(self, node: MappingNode) -> PosMap:
        file = self.file
        # 1. Check the keys written here: strings, no duplicates ("!include :" excepted).
        first_line: dict[str, int] = {}
        entries: list[tuple[str, Any, Node | None, int]] = []  # (kind, key, value node, line)
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            tag = key_node.tag
            if tag == _INCLUDE and isinstance(key_node, ScalarNode):
                if key_node.value != "":
                    raise DigError(
                        f"'!include {key_node.value}' cannot be used as a key; write "
                        f"`!include : 'file.dig'` (the path is the value)", file, line)
                entries.append(("include", None, value_node, line))
                continue
            if tag == _MERGE and isinstance(key_node, ScalarNode):
                key = "<<"
            else:
                key = self._key(key_node)
            if key in first_line:
                raise DigError(f"duplicate key '{key}' (first defined at line "
                               f"{first_line[key]}); remove one of them or rename it",
                               file, line)
            first_line[key] = line
            entries.append(("merge" if tag == _MERGE else "kv", key, value_node, line))

        # 2. Expand "<<" merge keys as SnakeYAML does (shallow, the mapping's own keys win).
        if any(entry[0] == "merge" for entry in entries):
            entries = self._flatten(entries)

        # 3. Build, applying includes in order.
        result = PosMap((), file, node.start_mark.line + 1)
        key_pos = result.key_pos
        for kind, key, value_node, line in entries:
            if kind == "include":
                self._include_keys(result, value_node, line)
            else:
                value = self.build(value_node)  # type: ignore[arg-type]
                result[key] = value
                key_pos[key] = (file, line)
        return result

    def _key(self, key_node: Node) -> str:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, ScalarNode):
            raise DigError(f"a key must be a string, not {_node_kind(key_node)}", self.file, line)
        value = self.scalar(key_node)
        if value is None:
            if key_node.value:
                raise DigError(f"the key '{key_node.value}' reads as null; quote it if you "
                               "mean the string", self.file, line)
            raise DigError("a key cannot be empty; write a name before ':'", self.file, line)
        return _key_text(value)

    def _flatten(self, entries: list) -> list:
        """Expand merge entries into (kind, key, value node, line) entries of the right files."""
        out: list = []
        index: dict[str, int] = {}

        def add(entries: list, preferred: bool) -> None:
            for entry in entries:
                kind, key, value_node, line = entry
                if kind == "include":
                    out.append(entry)
                elif kind == "merge":
                    sources = (value_node.value if isinstance(value_node, SequenceNode)
                               else [value_node])
                    for src in sources:
                        if not isinstance(src, MappingNode):
                            raise DigError("'<<' (merge key) needs a mapping or a list of "
                                           "mappings, e.g. `<<: *defaults`", self.file, line)
                        if id(src) in self.active:
                            raise DigError("'<<' merges a mapping into itself", self.file, line)
                        add(self._entries_of(src), False)
                elif key not in index:
                    index[key] = len(out)
                    out.append(entry)
                elif preferred:
                    out[index[key]] = entry

        add(entries, True)
        return out

    def _entries_of(self, node: MappingNode) -> list:
        """Entries of a mapping used as a merge source (its duplicates are checked too)."""
        seen: dict[str, int] = {}
        entries = []
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _INCLUDE and isinstance(key_node, ScalarNode):
                entries.append(("include", None, value_node, line))
                continue
            key = "<<" if key_node.tag == _MERGE else self._key(key_node)
            if key in seen:
                raise DigError(f"duplicate key '{key}' (first defined at line {seen[key]}); "
                               "remove one of them or rename it", self.file, line)
            seen[key] = line
            entries.append(("merge" if key_node.tag == _MERGE else "kv", key, value_node, line))  # type: ignore[arg-type]
        return entries

    # -- includes -------------------------------------------------------------------------
    def _include_path(self, value_node: Node | None, line: int, form: str) -> str:
        if not isinstance(value_node, ScalarNode) or value_node.tag == _NULL or \
                value_node.value == "":
            got = "nothing" if value_node is None or isinstance(value_node, ScalarNode) \
                else _node_kind(value_node)
            raise DigError(f"{form} needs a file path as a string, not {got}; "
                           "write `!include : 'file.dig'` or `key: !include 'file.dig'`",
                           self.file, line)
        return value_node.value

    def _load_included(self, rel: str, line: int) -> tuple[Any, str]:
        """Loads an included file; returns its value and its display name."""
        file = self.file
        if os.path.isabs(rel):
            raise DigError(f"include path '{rel}' is absolute; write a path relative to the "
                           "directory of this file", file, line)
        norm = os.path.normpath(rel)
        if norm == os.pardir or norm.startswith(os.pardir + os.sep):
            raise DigError(f"include path '{rel}' leaves the directory of this file; "
                           "an included file must be in the same directory or below it",
                           file, line)
        abs_path = os.path.join(self.base_dir, norm)
        parent_dir = os.path.dirname(file) if not file.startswith("<") else ""
        display = os.path.normpath(os.path.join(parent_dir, norm))
        real = os.path.realpath(abs_path)
        for i, (other, _shown) in enumerate(self.chain):
            if other == real:
                names = [shown for _r, shown in self.chain[i:]] + [display]
                raise DigError("include cycle: " + " -> ".join(names), file, line)
        text = _read_text(abs_path, display, (file, line))
        node = _compose(text, display)
        if node is None:
            return PosMap((), display, 1), display
        builder = _Builder(display, os.path.dirname(abs_path), self.chain + ((real, display),),
                           self.shared)
        value = builder.build(node)
        if value is None:
            return PosMap((), display, 1), display
        return value, display

    def include_value(self, node: ScalarNode) -> Any:
        line = node.start_mark.line + 1
        rel = self._include_path(node, line, "!include")
        value, _display = self._load_included(rel, line)
        return value

    def _include_keys(self, result: PosMap, value_node: Node | None, line: int) -> None:
        rel = self._include_path(value_node, line, "'!include :'")
        included, display = self._load_included(rel, line)
        if not isinstance(included, PosMap):
            raise DigError(f"'!include : {rel}' merges keys, so '{display}' must contain a "
                           f"mapping (key: value lines), but it contains {_kind(included)}; "
                           f"use `key: !include '{rel}'` to insert it as a value",
                           self.file, line)
        for key, value in included.items():
            dest = result.get(key)
            if isinstance(dest, PosMap) and isinstance(value, PosMap):
                _deep_merge(dest, value)
            else:
                result[key] = value
                result.key_pos[key] = included.key_pos.get(key, (display, 1))


def _deep_merge(dest: PosMap, src: PosMap) -> None:
    for key, value in src.items():
        d = dest.get(key)
        if isinstance(d, PosMap) and isinstance(value, PosMap):
            _deep_merge(d, value)
        else:
            dest[key] = value
            dest.key_pos[key] = src.key_pos.get(key, (src.file, src.line))


# ------------------------------------------------------------------------------------------
# Entry points


def _load(text: str, file: str, base_dir: str, chain: tuple[tuple[str, str], ...]) -> PosMap:
    # The collector is left alone: its settings are process-wide, the program's to choose
    # (a 1 MB file loads about twice as fast under gc.set_threshold(50_000, 20, 100)).
    node = _compose(text, file)
    if node is None:
        return PosMap((), file, 1)
    builder = _Builder(file, base_dir, chain, _Shared())
    try:
        value = builder.build(node)
    except RecursionError:
        raise DigError("the data is nested too deeply", file, None) from None
    if value is None:
        return PosMap((), file, 1)
    if not isinstance(value, PosMap):
        raise DigError("the top level of a .dig file must be a mapping (key: value lines), "
                       f"but this file contains {_kind(value)}", file, node.start_mark.line + 1)
    return value


def load_file(path: str | os.PathLike, display_name: str | None = None) -> PosMap:
    """Loads a .dig (or other YAML) file in Digdag's dialect.

    `display_name` is the name used in positions and errors (default: `path` as given);
    included files are shown relative to it.
    """
    path = os.fspath(path)
    display = display_name if display_name is not None else path
    text = _read_text(path, display)
    abs_path = os.path.abspath(path)
    return _load(text, display, os.path.dirname(abs_path),
                 ((os.path.realpath(abs_path), display),))


def load_text(text: str, file: str = "<string>") -> PosMap:
    """Loads YAML text in Digdag's dialect; includes are resolved relative to the cwd."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return _load(text, file, os.getcwd(), ())
