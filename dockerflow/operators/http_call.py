"""http_call>: fetch a workflow over HTTP and run it as this task's children (`^sub`).

The request is http>'s (`send`, same options and secrets). The body is a workflow in JSON
(`application/json`) or in Digdag's YAML dialect (`application/x-yaml`, and the other YAML
media types), chosen by the response's Content-Type or `content_type_override`. It is
parsed and validated here, so that a bad workflow fails the task naming the URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from dockerflow.dig.compile import Compiler
from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.dig.words import kind_of
from dockerflow.dig.yaml_loader import load_text
from dockerflow.errors import DigError, TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext
from dockerflow.operators.flow import CALL_DROPS
from dockerflow.operators.http import media_type, option, send

JSON_TYPES = frozenset({"application/json"})
YAML_TYPES = frozenset({"application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"})
WHAT = "http_call>"


class HttpCallOperator:
    name: ClassVar[str] = "http_call"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["http_call"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        method, url, response = send(ctx, WHAT, ctx.command)
        ctx.output(f"{method} {url} -> {response.status}")
        override = option(ctx, "content_type_override")
        ctype = str(override) if override else response.content_type
        if not ctype:
            raise TaskFailure(f"{WHAT}: {url} answered without a Content-Type; set"
                              " content_type_override: application/x-yaml (or application/json)")
        media = media_type(ctype)[0]
        try:
            text = response.text(ctype)
        except TaskFailure as e:
            raise TaskFailure(f"{WHAT}: {url}: {e}") from None
        if media in JSON_TYPES:
            config = self._json(url, text)
        elif media in YAML_TYPES:
            config = self._yaml(url, text)
        else:
            what = "content_type_override" if override else "Content-Type"
            raise TaskFailure(f"{WHAT}: unsupported {what} {ctype!r} from {url} (expected"
                              " application/json or application/x-yaml; set"
                              " content_type_override when the server sends another type)")
        config = {k: v for k, v in config.items() if k not in CALL_DROPS}
        self._validate(ctx, url, config)
        return TaskResult(subtask_config=config)

    @staticmethod
    def _json(url: str, text: str) -> Mapping[str, Any]:
        if not text.strip():
            raise TaskFailure(f"{WHAT}: {url}: the response is empty, not a workflow")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise TaskFailure(f"{WHAT}: {url}: the response is not valid JSON: {e}") from None
        if not isinstance(value, dict):
            raise TaskFailure(f"{WHAT}: {url}: a workflow must be a JSON object, but the"
                              f" response holds {kind_of(value)}")
        return value

    @staticmethod
    def _yaml(url: str, text: str) -> Mapping[str, Any]:
        if not text.strip():
            raise TaskFailure(f"{WHAT}: {url}: the response is empty, not a workflow")
        try:
            return load_text(text, file=url)
        except DigError as e:
            raise TaskFailure(_dig_message(url, e)) from None

    @staticmethod
    def _validate(ctx: OperatorContext, url: str, config: Mapping[str, Any]) -> None:
        """Compile the children as the runner will, so a problem names the URL."""
        compiler = Compiler(OPERATOR_OPTIONS, file=url, context=ctx.full_name)
        try:
            compiler.compile_task("^sub", config)
        except DigError as e:
            raise TaskFailure(_dig_message(url, e)) from None
        except RecursionError:
            raise TaskFailure(f"{WHAT}: {url}: the workflow is nested too deeply") from None
        for warning in compiler.warnings:
            ctx.output(f"warning: {warning}")


def _dig_message(url: str, e: DigError) -> str:
    if e.file == url:
        return f"{WHAT}: {url}{f':{e.line}' if e.line else ''}: {e.message}"
    return f"{WHAT}: invalid workflow from {url}: {e}"
