"""http>: call an HTTP endpoint; stores `http.last_status` (and `http.last_content`).

`send()` makes the request for http> and http_call>. As in Digdag, every option is read from
the task's keys and params first, then from the `http` map of params (`_export: {http: ...}`,
`-p http.method=POST`, a `-P` file); secrets `http.authorization`, or `http.user` with
`http.password`, authenticate the request, and `http.uri` replaces http>'s URI.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any, ClassVar, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext
from dockerflow.timeutil import parse_duration

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
RETRIED_STATUS = frozenset({408, 429})
ATTEMPTS = 5  # the first try and four retries, waits of 1, 2, 4, 8 s
ERROR_BODY_CHARS = 200  # an error body longer than this is cut to 197 characters and "..."
MAX_ERROR_BODY = 64 * 1024  # a longer error body (by Content-Length) is not quoted at all
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

T = TypeVar("T")


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str  # the Content-Type header as sent, "" when there was none

    def text(self, content_type: str | None = None, strict: bool = True) -> str:
        """The body decoded by the charset of `content_type` (default: the response's),
        else as UTF-8; not `strict`: undecodable bytes become U+FFFD."""
        charset = media_type(content_type or self.content_type)[1] or "utf-8"
        try:
            return self.body.decode(charset, "strict" if strict else "replace")
        except LookupError:
            if not strict:
                return self.body.decode("utf-8", "replace")
            raise TaskFailure(f"unknown charset {charset!r} in Content-Type") from None
        except UnicodeDecodeError as e:
            raise TaskFailure(f"the response is not valid {charset}: {e.reason} at byte"
                              f" {e.start}") from None


def media_type(value: str) -> tuple[str, str | None]:
    """`type/subtype` (lower case, without parameters) and the charset of a Content-Type."""
    message = Message()
    message["Content-Type"] = value
    charset = message.get_param("charset")
    return (value.split(";")[0].strip().lower(),
            charset if isinstance(charset, str) and charset else None)


class _Retryable(Exception):
    """A server error, a timeout or a network failure: worth another try."""


def option(ctx: OperatorContext, name: str, default: Any = None) -> Any:
    """An option: the task's key or a param of that name, else `http.<name>`."""
    value = ctx.params.get(name)
    if value is None:
        nested = ctx.params.get("http")
        if isinstance(nested, Mapping):
            value = nested.get(name)
    return default if value is None else value


def flag(ctx: OperatorContext, name: str, default: bool, what: str) -> bool:
    """A boolean option; "true"/"false" strings (from `-p`) count."""
    value = option(ctx, name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise TaskFailure(f"{what}: {name} must be true or false, got {value!r}")


def _text(value: Any) -> str:
    """A value as Digdag writes it into a query, a form or a header."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _json_text(value: Any) -> Any:
    """`value`, or what it holds when it is JSON text of a map or a list; else unchanged."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _body(ctx: OperatorContext, what: str) -> tuple[bytes | None, str | None]:
    """The request body and its Content-Type, from `content` and `content_format`."""
    raw = option(ctx, "content")
    if raw is None:
        return None, None
    content = ctx.secrets.resolve(raw, keys=True)
    container = isinstance(content, (Mapping, list))
    fmt = str(option(ctx, "content_format") or ("json" if container else "text")).lower()
    kind = "objects" if isinstance(content, Mapping) else "arrays" if container else "scalars"
    if fmt == "json":
        data, ctype = json.dumps(content, ensure_ascii=False).encode(), "application/json"
    elif fmt == "form" and isinstance(content, Mapping):
        for k, v in content.items():
            if isinstance(v, (Mapping, list)):
                raise TaskFailure(f"{what}: invalid form content field value for '{k}': {v!r}")
        data = urllib.parse.urlencode({str(k): _text(v) for k, v in content.items()}).encode()
        ctype = "application/x-www-form-urlencoded"
    elif fmt == "text" and not container:
        data, ctype = _text(content).encode(), "plain/text"  # Digdag's (odd) content type
    elif fmt in ("text", "json", "form"):
        raise TaskFailure(f"{what}: invalid content format for {kind}: '{fmt}'"
                          + (" (form needs content to be a map)" if fmt == "form" else ""))
    else:
        raise TaskFailure(f"{what}: content_format must be text, json or form, not {fmt!r}")
    return data, str(option(ctx, "content_type") or ctype)


def _query(ctx: OperatorContext, what: str) -> str:
    """`query` as text to append: a map (or JSON text of one) is url-encoded."""
    raw = option(ctx, "query")
    if raw is None or raw == "":
        return ""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, Mapping):  # as Digdag: JSON text of an object is a map
            raw = parsed
    query = ctx.secrets.resolve(raw, keys=True)
    if isinstance(query, Mapping):
        return urllib.parse.urlencode({str(k): _text(v) for k, v in query.items()})
    if isinstance(query, str):
        return query
    raise TaskFailure(f"{what}: query must be a map or a string, got {query!r}")


def _headers(ctx: OperatorContext, what: str) -> list[tuple[str, str]]:
    """`headers`: a list of one-key maps (Digdag), or a map; also as JSON text."""
    raw = _json_text(option(ctx, "headers") or [])
    if isinstance(raw, Mapping):
        entries: list[Any] = [raw]
    elif isinstance(raw, list):
        entries = raw
    else:
        raise TaskFailure(f"{what}: headers must be a list of name: value maps, got {raw!r}")
    out = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise TaskFailure(f"{what}: invalid header {entry!r}: write '- Name: value'")
        for key, value in ctx.secrets.resolve(dict(entry), keys=True).items():
            name, text = str(key), _text(value)
            if not HEADER_NAME_RE.match(name):
                raise TaskFailure(f"{what}: invalid header name {name!r}")
            if any(c in text for c in "\r\n\0"):
                raise TaskFailure(f"{what}: the value of header {name!r} holds a line break")
            out.append((name, text))
    return out


def _auth_header(ctx: OperatorContext) -> str | None:
    """The Authorization value from secrets `http.authorization`, or `http.user` and
    `http.password` (basic authentication), as Digdag reads them."""
    authorization = ctx.secrets.find("http.authorization")
    if authorization is not None:
        return authorization
    user = ctx.secrets.find("http.user")
    if user is None:
        return None
    password = ctx.secrets.find("http.password") or ""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _error_body(e: urllib.error.HTTPError) -> str:
    """The start of an error response's body, for the failure message (Digdag's rule)."""
    length = e.headers.get("Content-Length") if e.headers else None
    try:
        if length is not None and int(length) > MAX_ERROR_BODY:
            return "(too long response body)"
    except ValueError:
        return "(too long response body)"
    text = e.read(MAX_ERROR_BODY + 1).decode("utf-8", "replace")
    if len(text) > ERROR_BODY_CHARS:
        text = text[:ERROR_BODY_CHARS - 3] + "..."
    return text


def send(ctx: OperatorContext, what: str, uri: Any) -> tuple[str, str, Response]:
    """Make the request the options describe; returns (method, url, response).

    Failures are TaskFailure; server errors (5xx, 408, 429) and network errors are retried
    for safe methods (or with `retry: true`). Anything but 2xx and 3xx fails."""
    method = str(option(ctx, "method") or "GET").upper()
    url = ctx.secrets.resolve(uri)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise TaskFailure(f"{what} needs an http:// or https:// URI, got {url!r}")
    query = _query(ctx, what)
    if query:
        url += ("&" if "?" in url else "?") + query
    data, ctype = _body(ctx, what)
    headers = _headers(ctx, what)
    names = {k.lower() for k, _ in headers}
    auth = _auth_header(ctx)
    if auth is not None and "authorization" not in names:
        headers.insert(0, ("Authorization", auth))
    if ctype and "content-type" not in names:
        headers.append(("Content-Type", ctype))
    try:
        timeout = parse_duration(option(ctx, "timeout", 30), bare_seconds=True)
    except ValueError as e:
        raise TaskFailure(f"{what}: timeout: {e}") from None
    retry = flag(ctx, "retry", method in SAFE_METHODS, what)
    context = ssl._create_unverified_context() if flag(ctx, "insecure", False, what) else None

    def call() -> Response:
        try:
            request = urllib.request.Request(url, data=data, method=method)
            for k, v in headers:
                request.add_header(k, v)
            with urllib.request.urlopen(request, timeout=timeout, context=context) as r:
                return Response(r.status, r.read(), r.headers.get("Content-Type") or "")
        except urllib.error.HTTPError as e:
            if 300 <= e.code < 400:  # a redirect that was not followed: done, as in Digdag
                return Response(e.code, e.read(), e.headers.get("Content-Type") or "")
            body = _error_body(e)
            tail = f": {body}" if body else ""
            if e.code >= 500 or e.code in RETRIED_STATUS:
                raise _Retryable(f"{method} {url} answered {e.code}{tail}") from None
            raise TaskFailure(f"{what}: {method} {url} failed with status {e.code}{tail}") \
                from None
        except (urllib.error.URLError, TimeoutError, ConnectionError,
                http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            raise _Retryable(f"{method} {url} failed: {reason}") from None
        except ValueError as e:  # urllib refuses the URL or a header value
            raise TaskFailure(f"{what}: {method} {url}: {e}") from None

    try:
        return method, url, _attempts(call, retry, ctx)
    except _Retryable as e:
        raise TaskFailure(f"{what}: {e}") from None


def _attempts(call: Callable[[], T], retry: bool, ctx: OperatorContext) -> T:
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


class HttpOperator:
    name: ClassVar[str] = "http"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = False
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["http"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        secret_uri = ctx.secrets.find("http.uri")
        method, url, response = send(ctx, "http>", ctx.command if secret_uri is None
                                     else secret_uri)
        ctx.output(f"{method} {url} -> {response.status}")
        store: dict[str, Any] = {"last_status": response.status}
        if flag(ctx, "store_content", False, "http>"):
            store["last_content"] = response.text(strict=False)
        return TaskResult(store={"http": store},
                          reset_store=["http.last_status", "http.last_content"])
