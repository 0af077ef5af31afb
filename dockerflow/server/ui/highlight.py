"""A tiny highlighter for `.dig` files (YAML): task names, operators, `_directives`, other keys,
`${...}` expressions, quoted strings, scalars and comments, as <span class=...>. Line by line:
good enough to read a workflow, never a parser."""

from __future__ import annotations

import re

from dockerflow.server.ui.html import esc

KEY_RE = re.compile(r"^(\s*(?:-\s+)?)([^\s:#'\"][^:#]*?|'[^']*'|\"[^\"]*\")(:)(?=\s|$)")
TOKEN_RE = re.compile(r"\$\{[^}]*\}|'[^']*'|\"(?:[^\"\\]|\\.)*\"")
SCALAR_RE = re.compile(r"^(true|false|yes|no|null|~|-?\d+(\.\d+)?|\d+[smhd])$", re.IGNORECASE)


def _comment_at(line: str) -> int:
    """Where a `#` comment starts (outside quotes, after a space or at the start), or -1."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t:-[{,"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return i
    return -1


def _value(text: str) -> str:
    stripped = text.strip()
    if stripped and SCALAR_RE.match(stripped):
        lead = text[:len(text) - len(text.lstrip())]
        return esc(lead) + f'<span class="y-scalar">{esc(stripped)}</span>' + esc(text[len(lead) + len(stripped):])
    out, pos = [], 0
    for m in TOKEN_RE.finditer(text):
        out.append(esc(text[pos:m.start()]))
        kind = "y-expr" if m.group().startswith("$") else "y-str"
        out.append(f'<span class="{kind}">{esc(m.group())}</span>')
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def _key_class(key: str) -> str:
    if key.startswith("+"):
        return "y-task"
    if key.endswith(">"):
        return "y-op"
    if key.startswith("_") or key.startswith("^"):
        return "y-directive"
    return "y-key"


def highlight_line(line: str) -> str:
    cut = _comment_at(line)
    code, comment = (line, "") if cut < 0 else (line[:cut], line[cut:])
    m = KEY_RE.match(code)
    if m:
        lead, key, colon = m.group(1), m.group(2), m.group(3)
        html = (esc(lead) + f'<span class="{_key_class(key)}">{esc(key)}</span>{colon}'
                + _value(code[m.end():]))
    else:
        html = _value(code)
    if comment:
        html += f'<span class="y-comment">{esc(comment)}</span>'
    return html


def highlight_dig(text: str) -> str:
    """The file as highlighted HTML lines (for a <pre><code>), each in a span.line."""
    return "".join(f'<span class="line">{highlight_line(line)}</span>\n'
                   for line in text.splitlines())
