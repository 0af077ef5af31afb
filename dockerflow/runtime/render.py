"""Evaluating a task's `${...}` before it is handed to a worker (the coordinator's side).

    render_task(evaluator, config, raw, builtins, error) -> (params, config)
        params: the raw visible params with the built-ins, each templated value evaluated;
        config: the task's own keys evaluated in the order written (each one visible to the
        next), `_do`/`_else_do` left raw for the operators that compile them
    render_retry(evaluator, task_name, retry, params) -> RetrySpec | None   `_retry: ${...}`
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockerflow.dig.compile import parse_retry_value
from dockerflow.errors import TaskFailure
from dockerflow.expr import Evaluator, has_template
from dockerflow.graph.spec import RetrySpec

NOT_EVALUATED = frozenset({"_do", "_else_do"})


def render_task(ev: Evaluator, config: Mapping[str, Any], raw: Mapping[str, Any],
                builtins: Mapping[str, Any],
                error: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    scope = dict(raw)
    scope.update(builtins)
    if error is not None:
        scope["error"] = dict(error)
    for key, value in raw.items():
        if key not in builtins and has_templates(value):
            scope[key] = ev.render_value(value, scope)
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in NOT_EVALUATED:
            out[key] = value
        else:
            out[key] = ev.render_value(value, scope) if has_templates(value) else value
            scope[key] = out[key]
    return scope, out


def render_retry(ev: Evaluator, task_name: str, retry: object,
                 params: Mapping[str, Any]) -> RetrySpec | None:
    """A `_retry` written as a `${...}` text, evaluated; None when it was literal."""
    if not isinstance(retry, str):
        return None
    rendered = ev.render(retry, dict(params))
    return parse_retry_value(rendered, lambda m: TaskFailure(f"{task_name}: {m}"))


def has_templates(value: Any) -> bool:
    """Whether evaluating `value` (a config value, maybe nested) could change it."""
    if isinstance(value, str):
        return has_template(value)
    if isinstance(value, dict):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return False
