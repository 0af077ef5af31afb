"""Who may use the API: nobody checked (loopback, as Digdag), a bearer token, or HTTP basic
users. `/api/version` is always open (clients ask it before anything else).

    load_auth("token", FILE)   the file's first line is the token: `Authorization: Bearer T`
    load_auth("basic", FILE)   lines `user:password` (`#` comments): `Authorization: Basic ...`
    AuthMiddleware(app, auth)  401 {"message", "status"} for a request without valid credentials

Credentials are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field
from pathlib import Path

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from dockerflow.errors import UserInputError

OPEN_PATHS = frozenset({"/api/version"})


@dataclass(frozen=True)
class Auth:
    kind: str  # "token" | "basic"
    token: str = ""
    users: dict[str, str] = field(default_factory=dict)

    def allows(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if self.kind == "token":
            return scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), self.token.encode())
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected = self.users.get(user)
        # compare against something even for an unknown user, so timing tells nothing
        return hmac.compare_digest(password.encode(), (expected or "\0").encode()) and expected is not None


def load_auth(kind: str, path: str | None) -> Auth:
    if kind not in ("token", "basic"):
        raise UserInputError(f"--auth must be token or basic, got {kind!r}")
    if not path:
        raise UserInputError(f"--auth {kind} needs --auth-file FILE (the token, or user:password lines)")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UserInputError(f"--auth-file {path}: {e.strerror or e}") from None
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if kind == "token":
        if not lines:
            raise UserInputError(f"--auth-file {path}: no token in it")
        return Auth("token", token=lines[0])
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        user, sep, password = stripped.partition(":")
        if not sep or not user or not password:
            raise UserInputError(f"{path}:{number}: expected user:password")
        users[user] = password
    if not users:
        raise UserInputError(f"--auth-file {path}: no user:password lines in it")
    return Auth("basic", users=users)


class AuthMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        super().__init__(app)
        self.auth = auth

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path in OPEN_PATHS or self.auth.allows(request.headers.get("authorization")):
            return await call_next(request)
        headers = {"WWW-Authenticate": 'Basic realm="dockerflow"'} if self.auth.kind == "basic" \
            else {"WWW-Authenticate": "Bearer"}
        return JSONResponse({"message": "Authentication failed", "status": 401}, status_code=401,
                            headers=headers)
