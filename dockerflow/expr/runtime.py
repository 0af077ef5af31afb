"""One quickjs context loaded with moment.js and prelude.js, running parsed templates.

A quickjs context must stay on the thread that created it (its stack checks are tied to that
thread's stack), so the Evaluator keeps one JsRuntime per thread.  A JsRuntime itself is not
thread-safe.
"""

from __future__ import annotations

import json
from importlib import resources

import quickjs

from dockerflow.errors import ExprError
from dockerflow.expr import zones
from dockerflow.expr.template import Template

_MAX_TEMPLATES = 4096  # templates registered in one context before it forgets them all
_MAX_ZONE_RETRIES = 8


def _script(name: str) -> str:
    return resources.files("dockerflow.expr").joinpath(name).read_text(encoding="utf-8")


_SCRIPTS: tuple[str, ...] | None = None


def _scripts() -> tuple[str, ...]:
    global _SCRIPTS
    if _SCRIPTS is None:
        _SCRIPTS = (_script("moment.js"), _script("prelude.js"))
    return _SCRIPTS


def failure_message(code: str, detail: str) -> str:
    return f"Failed to evaluate a variable ${{{code}}} ({detail})"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


class JsRuntime:
    """A JavaScript context for templates; `timezone` is moment's default zone."""

    def __init__(
        self,
        timezone: str,
        now_ms: float | None,
        time_limit: float,
        memory_limit: int,
        stack_limit: int,
    ) -> None:
        self._time_limit = time_limit
        ctx = quickjs.Context()
        ctx.set_memory_limit(memory_limit)
        ctx.set_max_stack_size(stack_limit)
        for script in _scripts():
            ctx.eval(script)
        api = "globalThis.__dockerflow"
        self._ctx = ctx
        self._run = ctx.eval(f"{api}.run")
        self._define = ctx.eval(f"{api}.define")
        self._clear = ctx.eval(f"{api}.clear")
        self._current = ctx.eval(f"{api}.current")
        self._add_zone = ctx.eval(f"{api}.addZone")
        self._ids: dict[Template, int] = {}
        self._loaded_zones: set[str] = set()
        for name in {timezone, "UTC"}:
            if not zones.is_fixed_offset(name):
                self.load_zone(name)
        ctx.eval(f"{api}.configure")(timezone, now_ms)
        ctx.set_time_limit(time_limit)  # from here on no Python callbacks are possible

    def load_zone(self, name: str) -> None:
        if name not in self._loaded_zones:
            self._add_zone(name, zones.zone_json(name))
            self._loaded_zones.add(name)

    def _template_id(self, template: Template) -> int:
        template_id = self._ids.get(template)
        if template_id is None:
            if len(self._ids) >= _MAX_TEMPLATES:
                self._clear()
                self._ids.clear()
            template_id = len(self._ids)
            self._define(template_id, json.dumps(template.parts))
            self._ids[template] = template_id
        return template_id

    def render(self, template: Template, params_json: str, overlay_json: str | None) -> str:
        """The rendered text; raises ExprError naming the failing expression."""
        template_id = self._template_id(template)
        for _ in range(_MAX_ZONE_RETRIES):
            try:
                result = self._run(template_id, params_json, overlay_json)
            except quickjs.JSException as e:  # uncatchable: interrupted, or out of memory
                raise self._abort_error(template, e) from None
            if type(result) is str:
                return result
            failure = json.loads(result.json())
            if "zones" in failure:
                for name in failure["zones"]:
                    self.load_zone(name)
                continue
            raise self._failure_error(template, failure)
        raise ExprError(failure_message(template.codes[0], "too many time zones"))

    def _failure_error(self, template: Template, failure: dict[str, object]) -> ExprError:
        index = failure["index"]
        name, message = str(failure["name"]), str(failure["message"])
        if name == "ReferenceError" and message.endswith(" is not defined"):
            # Digdag (Nashorn-compatible) style: "name" is not defined
            variable = message[: -len(" is not defined")].strip("'\"")
            message = f'"{variable}" is not defined'
        if isinstance(index, int) and 0 < index < len(template.parts):
            code = template.parts[index]
        else:  # the params could not even be read
            return ExprError(f"Failed to read the parameters for {template.codes[0]!r}: {message}")
        return ExprError(failure_message(code, f"{name}: {message}"))

    def _abort_error(self, template: Template, error: Exception) -> ExprError:
        text = _first_line(str(error))
        index = -1
        try:
            index = int(self._current())
        except quickjs.JSException:
            pass
        self._ctx.gc()
        code = template.parts[index] if 0 < index < len(template.parts) else template.codes[0]
        if "interrupted" in text:
            text = f"timed out: took longer than {self._time_limit:g} s"
        return ExprError(failure_message(code, text))
