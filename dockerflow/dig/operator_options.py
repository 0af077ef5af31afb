"""The operators the engine runs and the option keys each reads (besides its command).

A plain table, so that validating a project (`dockerflow check`, the SDK, the image lock)
knows every `x>` without importing the operators, which import the executors. Each operator
class takes its `options` from here (`options = OPERATOR_OPTIONS["sh"]`); a unit test keeps
the table and `dockerflow.operators.OPERATORS` the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The request options of http> and http_call> (operators/http.py:send).
REQUEST_OPTIONS = frozenset({
    "method", "content", "content_format", "content_type", "headers", "query", "timeout",
    "insecure", "retry"})

OPERATOR_OPTIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    "sh": frozenset({"shell"}),
    "py": frozenset({"python"}),
    "echo": frozenset(),
    "fail": frozenset(),
    "wait": frozenset({"blocking", "poll_interval"}),
    "call": frozenset(),
    "if": frozenset(),
    "loop": frozenset({"count"}),
    "for_each": frozenset(),
    "for_range": frozenset(),
    "http": REQUEST_OPTIONS | {"store_content"},
    "http_call": REQUEST_OPTIONS | {"content_type_override"},
    "require": frozenset({
        "session_time", "params", "rerun_on", "ignore_failure", "project_id", "project_name",
        "retry_attempt_name"}),
    "mail": frozenset({
        "subject", "to", "cc", "bcc", "from", "html", "attach_files", "debug", "host", "port",
        "username", "password", "tls", "ssl", "timeout"}),
    "notify": frozenset(),  # internal (alerts); its `_notification` key is the context
    # their keys are the data: any key is read
    "param_set": frozenset(),
    "param_get": frozenset(),
})
OPERATOR_NAMES: frozenset[str] = frozenset(OPERATOR_OPTIONS)
ANY_KEY_OPERATORS: frozenset[str] = frozenset({"param_set", "param_get"})

__all__ = ["ANY_KEY_OPERATORS", "OPERATOR_NAMES", "OPERATOR_OPTIONS", "REQUEST_OPTIONS"]
