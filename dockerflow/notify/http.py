"""notification.type = http: the notification's JSON sent to `notification.http.url`."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx

from dockerflow.errors import UserInputError
from dockerflow.notify.base import Notification, NotificationError, Settings

HEADERS_PREFIX = "notification.http.headers."
TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an HTTP method or header name
REASON_BODY_CHARS = 200


class HttpSender:
    """`method url` with the JSON body; any 2xx answer is a success, anything else (another
    status, no connection, a timeout after `timeout` seconds) a failed try."""

    name = "http"

    def __init__(self, url: str, *, method: str = "POST", headers: Mapping[str, str] | None = None,
                 timeout: float = 30.0) -> None:
        if not re.match(r"^https?://[^/]", url, re.IGNORECASE):
            raise UserInputError(f"notification.http.url must be an http:// or https:// URL,"
                                 f" not {url!r}")
        method = method.upper()
        if not TOKEN_RE.match(method):
            raise UserInputError(f"notification.http.method {method!r} is not an HTTP method")
        for name, value in (headers or {}).items():
            if not TOKEN_RE.match(name):
                raise UserInputError(f"{HEADERS_PREFIX}{name}: {name!r} is not a header name")
            if "\n" in value or "\r" in value:
                raise UserInputError(f"{HEADERS_PREFIX}{name}: a header value is one line")
        self.url = url
        self.method = method
        self.headers = dict(headers or {})
        self.timeout = timeout
        # for messages: the origin only, as a webhook's path or query often holds its secret
        try:
            origin = httpx.URL(url)
        except httpx.InvalidURL as e:
            raise UserInputError(f"notification.http.url {url!r} is not a URL: {e}") from None
        self.where = f"{origin.scheme}://{origin.host}" + (f":{origin.port}" if origin.port else "")

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpSender:
        headers = {}
        for key, value in settings.config.items():
            if key.startswith(HEADERS_PREFIX) and key != HEADERS_PREFIX:
                settings.used.add(key)
                headers[key[len(HEADERS_PREFIX):]] = str(value).strip()
        return cls(settings.required("notification.http.url"),
                   method=settings.get("notification.http.method") or "POST", headers=headers)

    def send_once(self, notification: Notification) -> None:
        headers = dict(self.headers)
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = client.request(self.method, self.url, content=notification.json_bytes(),
                                          headers=headers)
        except httpx.HTTPError as e:
            raise NotificationError(f"{self.method} {self.where}: {type(e).__name__}: {e}") from e
        if not response.is_success:
            body = response.text.strip().replace("\n", " ")
            if len(body) > REASON_BODY_CHARS:
                body = body[:REASON_BODY_CHARS - 3] + "..."
            raise NotificationError(f"{self.method} {self.where} answered {response.status_code}"
                                    f" {response.reason_phrase}" + (f": {body}" if body else ""))
