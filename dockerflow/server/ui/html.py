"""Small helpers to write the UI's HTML: escaping, the page frame, times and durations.

Every value that reaches a page goes through `esc` (or `attr`); pages are plain strings.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

from dockerflow import __version__
from dockerflow.timeutil import parse_zone

STATIC_FILES = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}


def esc(value: Any) -> str:
    text = "" if value is None else str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def q(value: Any) -> str:
    """A path segment or query value, percent-encoded (task names have '+' and '^')."""
    return quote(str(value), safe="")


def url(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def json_script(element_id: str, data: Any) -> str:
    """Data for the page's script, safe inside <script> (no `</` can close it)."""
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


@lru_cache(maxsize=None)
def static_file(name: str) -> bytes:
    return resources.files("dockerflow.server.ui").joinpath("static", name).read_bytes()


@lru_cache(maxsize=None)
def static_url(name: str) -> str:
    digest = hashlib.sha256(static_file(name)).hexdigest()[:10]
    return f"/ui/static/{name}?v={digest}"


def page(title: str, body: str, *, crumbs: list[tuple[str, str | None]] | None = None,
         data: dict[str, str] | None = None, active: str = "") -> str:
    """The frame of every page: the main navigation, breadcrumbs, `body` in <main>.
    `data`: data- attributes of <body> (what the script needs: the page kind, ids)."""
    attrs = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in (data or {}).items())
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if key == active else ""}>{label}</a>'
        for key, href, label in (("projects", "/", "Projects"), ("sessions", "/sessions", "Sessions"),
                                 ("attempts", "/attempts", "Attempts")))
    trail = ""
    if crumbs:
        parts = [f'<a href="{esc(href)}">{esc(label)}</a>' if href else
                 f'<span aria-current="page">{esc(label)}</span>' for label, href in crumbs]
        trail = '<nav class="crumbs" aria-label="Breadcrumb">' + " / ".join(parts) + "</nav>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · dockerflow</title>"
        '<link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="{static_url("ui.css")}">'
        f'<script src="{static_url("ui.js")}" defer></script>'
        f"</head><body{attrs}>"
        '<a class="skip" href="#main">Skip to content</a>'
        f'<header class="top"><nav aria-label="Main"><a class="brand" href="/">dockerflow</a>{nav}'
        f'</nav><span class="version">{esc(__version__)}</span></header>'
        f'<main id="main">{trail}{body}</main></body></html>')


def not_found(what: str) -> str:
    return page("Not found", f'<h1>Not found</h1><p class="notice">{esc(what)}</p>'
                             '<p><a href="/">Back to the projects</a></p>')


# -- times ---------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def zone_of(name: str | None) -> tzinfo:
    try:
        return parse_zone(name or "UTC")
    except ValueError:
        return timezone.utc


def _time_tag(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc)
    label = moment.strftime("%Z") or moment.strftime("%z")
    return (f'<time datetime="{utc:%Y-%m-%dT%H:%M:%SZ}" title="{utc:%Y-%m-%d %H:%M:%S} UTC">'
            f"{moment:%Y-%m-%d %H:%M:%S} {esc(label)}</time>")


def when(t: float | None, zone: tzinfo) -> str:
    """An epoch time in `zone`, with UTC on hover."""
    if t is None:
        return '<span class="muted">–</span>'
    return _time_tag(datetime.fromtimestamp(t, zone))


def session_when(text: str, zone: tzinfo | None = None) -> str:
    """A session time (an offset time, already in the workflow's zone), UTC on hover."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return esc(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or timezone.utc)
    elif zone is not None:
        moment = moment.astimezone(zone)
    return _time_tag(moment)


def duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    return f"{hours // 24}d {hours % 24}h"


def badge(state: str) -> str:
    return f'<span class="badge s-{esc(state)}">{esc(state.replace("_", " "))}</span>'


def int_param(value: str | None, default: int | None = None, lo: int = 0,
              hi: int = 2**63 - 1) -> int | None:
    """A query parameter as an int in [lo, hi]; anything else is the default (never a 500)."""
    if value is None or not value.strip().lstrip("-").isdigit():
        return default
    number = int(value.strip())
    return number if lo <= number <= hi else default
