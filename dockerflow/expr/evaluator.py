"""The public `${...}` evaluator."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from datetime import date, datetime
from datetime import timezone as dt_timezone
from typing import Any

from dockerflow.errors import ExprError
from dockerflow.expr import fastpath, zones
from dockerflow.expr.runtime import JsRuntime
from dockerflow.expr.template import Template, names_in, parse

_DEFAULT_TIME_LIMIT = 10.0  # seconds of CPU per template
_DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024
_DEFAULT_STACK_LIMIT = 1024 * 1024  # about 1000 nested JavaScript calls


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities replaced by None (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Compact JSON of a params mapping, as JavaScript's JSON.parse reads it."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False, default=_json_default)
    except ValueError:
        return to_json(_finite(value))


class _LazyJson:
    """A params mapping and its JSON, encoded at most once (on first need)."""

    __slots__ = ("params", "_json")

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self._json: str | None = None

    def json(self) -> str:
        if self._json is None:
            self._json = to_json(self.params)
        return self._json


class Evaluator:
    """Renders `${...}` templates with JavaScript semantics (see dockerflow/expr/__init__.py).

    `timezone` (IANA name like "Asia/Tokyo", or an offset like "+09:00") is moment's default
    zone; `now` is what `moment()` returns (default: the real time when `moment()` runs).

    Not thread-safe as such, but cheap to share: every thread that renders gets its own
    JavaScript context, created on first use (quickjs contexts cannot move between threads).
    """

    def __init__(
        self,
        timezone: str = "UTC",
        now: datetime | None = None,
        *,
        time_limit: float = _DEFAULT_TIME_LIMIT,
        memory_limit: int = _DEFAULT_MEMORY_LIMIT,
    ) -> None:
        if not zones.is_fixed_offset(timezone) and zones.find_zone(timezone) is None:
            raise ExprError(f"Unknown time zone: {timezone!r}")
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=dt_timezone.utc)
        self.timezone = timezone
        self.now = now
        self._now_ms = None if now is None else now.timestamp() * 1000.0
        self._time_limit = time_limit
        self._memory_limit = memory_limit
        self._local = threading.local()

    def _runtime(self) -> JsRuntime:
        runtime: JsRuntime | None = getattr(self._local, "runtime", None)
        if runtime is None:
            runtime = JsRuntime(self.timezone, self._now_ms, self._time_limit,
                                self._memory_limit, _DEFAULT_STACK_LIMIT)
            self._local.runtime = runtime
        return runtime

    def render(self, text: str, params: Mapping[str, Any]) -> str:
        """`text` with every `${...}` replaced by its value as text and `$$` by `$`."""
        if "$" not in text:
            return text
        return self._render(parse(text), _LazyJson(params), None)

    def render_value(self, value: Any, params: Mapping[str, Any]) -> Any:
        """`value` with every string containing `$` rendered, dicts and lists rebuilt.

        Like Digdag, a string inside a dict also sees the dict's earlier keys (already
        rendered) as variables, ahead of `params`.
        """
        return self._value(value, _LazyJson(params), None)

    # -- internals -------------------------------------------------------------------------

    def _value(self, value: Any, scope: _LazyJson, overlay: dict[str, Any] | None) -> Any:
        if isinstance(value, str):
            if "$" not in value:
                return value
            return self._render(parse(value), scope, overlay)
        if isinstance(value, Mapping):
            built: dict[str, Any] = {}
            for key, item in value.items():
                if isinstance(item, Mapping):
                    built[key] = self._value(item, scope, None)
                else:
                    built[key] = self._value(item, scope, built)
            return built
        if isinstance(value, (list, tuple)):
            return [self._value(item, scope, overlay) for item in value]
        return value

    def _render(self, template: Template, scope: _LazyJson,
                overlay: dict[str, Any] | None) -> str:
        parts = template.parts
        if len(parts) == 1:
            return parts[0]
        fast = self._fast(template, scope.params, overlay)
        if fast is not None:
            return fast
        overlay_json = None
        if overlay:  # only the earlier keys this template can name
            names = names_in(template)
            visible = {k: overlay[k] for k in names if k in overlay}
            overlay_json = to_json(visible) if visible else None
        return self._runtime().render(template, scope.json(), overlay_json)

    @staticmethod
    def _fast(template: Template, params: Mapping[str, Any],
              overlay: dict[str, Any] | None) -> str | None:
        parts = template.parts
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            path = _paths(parts[i])
            if path is None:
                return None
            text = fastpath.lookup(path, overlay, params)
            if text is None:
                return None
            out.append(text)
            out.append(parts[i + 1])
        return "".join(out)


_PATH_CACHE: dict[str, tuple[str, ...] | None] = {}


def _paths(code: str) -> tuple[str, ...] | None:
    try:
        return _PATH_CACHE[code]
    except KeyError:
        if len(_PATH_CACHE) > 16384:
            _PATH_CACHE.clear()
        path = _PATH_CACHE[code] = fastpath.simple_path(code)
        return path
