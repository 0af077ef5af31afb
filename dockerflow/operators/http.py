"""http>: call an HTTP endpoint; stores `http.last_status` (and `http.last_content`)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext
from dockerflow.timeutil import parse_duration

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
RETRIED_STATUS = frozenset({408, 429})
ATTEMPTS = 5  # the first try and four retries, waits of 1, 2, 4, 8 s


@dataclass
class _Response:
    status: int
    body: str


class _Retryable(Exception):
    """A server error, a timeout or a network failure: worth another try."""


def _body(ctx: OperatorContext) -> tuple[bytes | None, str | None]:
    """The request body and its Content-Type, from `content` and `content_format`."""
    if "content" not in ctx.config:
        return None, None
    content = ctx.secrets.resolve(ctx.config["content"])
    fmt = ctx.option("content_format") or ("json" if isinstance(content, (dict, list)) else "text")
    if fmt == "json":
        data, ctype = json.dumps(content, ensure_ascii=False).encode(), "application/json"
    elif fmt == "form":
        if not isinstance(content, Mapping):
            raise TaskFailure("http>: content_format form needs content to be a map")
        data = urllib.parse.urlencode({k: str(v) for k, v in content.items()}).encode()
        ctype = "application/x-www-form-urlencoded"
    elif fmt == "text":
        data, ctype = str(content).encode(), "plain/text"  # Digdag's (odd) content type
    else:
        raise TaskFailure(f"http>: content_format must be text, json or form, not {fmt!r}")
    return data, ctx.option("content_type") or ctype


def _url(ctx: OperatorContext) -> str:
    uri = ctx.secrets.resolve(ctx.command)
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise TaskFailure(f"http> needs an http:// or https:// URI, got {uri!r}")
    query = ctx.secrets.resolve(ctx.option("query"))
    if query:
        text = query if isinstance(query, str) else urllib.parse.urlencode(
            {k: str(v) for k, v in query.items()})
        uri += ("&" if "?" in uri else "?") + text
    return uri


def _headers(ctx: OperatorContext) -> list[tuple[str, str]]:
    raw = ctx.secrets.resolve(ctx.option("headers") or [])
    items = raw.items() if isinstance(raw, Mapping) else [
        kv for entry in raw for kv in (entry.items() if isinstance(entry, Mapping) else [])]
    return [(str(k), str(v)) for k, v in items]


class HttpOperator:
    name: ClassVar[str] = "http"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = frozenset({
        "method", "content", "content_format", "content_type", "headers", "query",
        "store_content", "timeout", "insecure", "retry"})

    def run(self, ctx: OperatorContext) -> TaskResult:
        method = str(ctx.option("method") or "GET").upper()
        url = _url(ctx)
        data, ctype = _body(ctx)
        headers = _headers(ctx)
        if ctype and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", ctype))
        timeout = parse_duration(ctx.option("timeout", 30), bare_seconds=True)
        retry = ctx.option("retry")
        retry = method in SAFE_METHODS if retry is None else str(retry).lower() == "true"
        context = ssl._create_unverified_context() if ctx.option("insecure") is True else None

        def call() -> _Response:
            request = urllib.request.Request(url, data=data, method=method)
            for k, v in headers:
                request.add_header(k, v)
            try:
                with urllib.request.urlopen(request, timeout=timeout, context=context) as r:
                    return _Response(r.status, r.read().decode("utf-8", "replace"))
            except urllib.error.HTTPError as e:
                body = e.read().decode("utf-8", "replace")
                if e.code >= 500 or e.code in RETRIED_STATUS:
                    raise _Retryable(f"{method} {url} answered {e.code}: {body[:500]}") from None
                raise TaskFailure(f"http>: {method} {url} failed with status {e.code}:"
                                  f" {body[:2000]}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                reason = getattr(e, "reason", e)
                raise _Retryable(f"{method} {url} failed: {reason}") from None

        try:
            response = self._attempts(call, retry, ctx)
        except _Retryable as e:
            raise TaskFailure(f"http>: {e}") from None
        ctx.output(f"{method} {url} -> {response.status}")
        store: dict[str, Any] = {"last_status": response.status}
        if ctx.option("store_content") is True:
            store["last_content"] = response.body
        return TaskResult(store={"http": store},
                          reset_store=["http.last_status", "http.last_content"])

    @staticmethod
    def _attempts(call: Any, retry: bool, ctx: OperatorContext) -> _Response:
        if not retry:
            return call()
        for attempt in Retrying(stop=stop_after_attempt(ATTEMPTS), reraise=True,
                                wait=wait_exponential(multiplier=1, max=8),
                                retry=retry_if_exception(lambda e: isinstance(e, _Retryable)
                                                         and not ctx.canceled.is_set())):
            with attempt:
                n = attempt.retry_state.attempt_number
                if n > 1:
                    ctx.output(f"retrying ({n - 1}/{ATTEMPTS - 1})")
                return call()
        raise AssertionError("unreachable")
