"""Docker API errors, translated in one place into `ExecutorError`s that say what to do.

    translate(exc, ...)      any exception from the Docker SDK -> ExecutorError
    docker_errors(...)       context manager: `with docker_errors(base_url, image=x): ...`
    retrying(fn, ...)        call fn, retrying transient API errors (tenacity)
    is_transient(exc)        connection reset, 5xx, 409 "removal in progress"
    engine_answered(exc)     5xx, 409 "removal in progress" only: the engine itself answered

A connection problem (refused, missing socket, reset) becomes `EngineUnavailable` (exit
status 3). Calls that must not outlive an engine restart unnoticed (waiting for a container)
retry only with `engine_answered`: a broken connection there means the engine went away, and
retrying against a restarted engine would report the container it stopped on its way down as
the task's result.

Nothing else in dockerflow looks at `docker.errors` classes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import docker.errors
import requests.exceptions
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from dockerflow.errors import EngineUnavailable, ExecutorError

T = TypeVar("T")

RETRY_ATTEMPTS = 4


class ImageMissing(ExecutorError):
    """The image is not present locally (and was not, or could not be, pulled)."""

    def __init__(self, image: str, message: str) -> None:
        self.image = image
        super().__init__(message)


class BuildFailed(ExecutorError):
    """A `docker: build:` (or runner image) build failed; carries the log tail."""

    def __init__(self, tag: str, reason: str, log_tail: list[str]) -> None:
        self.tag = tag
        self.reason = reason
        self.log_tail = log_tail
        tail = "\n".join(f"  | {line}" for line in log_tail)
        super().__init__(f"building image {tag} failed: {reason}\nlast lines of the build log:\n{tail}")


def _explanation(exc: BaseException) -> str:
    if isinstance(exc, docker.errors.APIError):
        text = exc.explanation
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return str(text or exc).strip()
    return str(exc).strip()


def _is_connection_problem(exc: BaseException) -> bool:
    if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError)):
        return True
    text = str(exc)
    return isinstance(exc, docker.errors.DockerException) and (
        "Error while fetching server API version" in text or "Connection aborted" in text
    )


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: connection resets, 5xx, 409 'removal in progress'."""
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        # A refused connection or a missing socket will not heal in a second.
        return "Connection refused" not in text and "No such file" not in text
    if isinstance(exc, ConnectionResetError):
        return True
    if isinstance(exc, docker.errors.APIError) and exc.response is not None:
        status = exc.status_code or 0
        if status == 409:
            return "in progress" in _explanation(exc)
        return status >= 500 and "No such" not in _explanation(exc) and "not found" not in _explanation(exc)
    return False


def engine_answered(exc: BaseException) -> bool:
    """True for transient errors the engine itself sent (5xx, 409 'in progress'); never for a
    broken connection."""
    return isinstance(exc, docker.errors.APIError) and exc.response is not None and is_transient(exc)


def retrying(
    fn: Callable[[], T], *, attempts: int = RETRY_ATTEMPTS, when: Callable[[BaseException], bool] = is_transient
) -> T:
    """Call `fn()`; retry transient Docker API errors (`when`) with exponential backoff."""
    retryer = Retrying(
        retry=retry_if_exception(when),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.1, max=2.0),
        reraise=True,
    )
    return retryer(fn)


def engine_address(base_url: str = "") -> str:
    """A readable address of the engine: DOCKER_HOST, or the default unix socket."""
    if base_url and not base_url.startswith("http+docker://"):
        return base_url
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def engine_down_message(where: str = "", doing: str = "") -> str:
    """One line: the engine at `where` does not answer, and how to start one."""
    what = f" (while {doing})" if doing and doing != "connecting" else ""
    return (
        f"the Docker engine at {engine_address(where)} does not answer{what}: "
        "start it (sudo systemctl start docker, or dockerd) or set DOCKER_HOST"
    )


def translate(exc: BaseException, *, base_url: str = "", image: str | None = None, doing: str = "") -> ExecutorError:
    """Turn an exception raised by the Docker SDK into an ExecutorError saying what to do."""
    if isinstance(exc, ExecutorError):
        return exc
    where = engine_address(base_url)
    what = f" while {doing}" if doing else ""
    if isinstance(exc, PermissionError) or "Permission denied" in str(exc):
        return ExecutorError(
            f"Permission denied talking to the Docker engine at {where}{what}: "
            "add your user to the 'docker' group (then log in again) or set DOCKER_HOST"
        )
    if _is_connection_problem(exc):
        return EngineUnavailable(engine_down_message(where, doing))
    if isinstance(exc, docker.errors.ImageNotFound) or (
        image and isinstance(exc, docker.errors.NotFound) and "image" in _explanation(exc).lower()
    ):
        name = image or "?"
        return ImageMissing(
            name, f"image '{name}' is not present locally: build it, pull it, or fix the name ({_explanation(exc)})"
        )
    if isinstance(exc, docker.errors.APIError):
        detail = _explanation(exc)
        status = exc.status_code
        if status == 400 or (status == 500 and "executable file not found" in detail):
            return ExecutorError(f"the Docker engine refused the container{what}: {detail}")
        return ExecutorError(f"Docker engine error{what} (HTTP {status}): {detail}")
    if isinstance(exc, requests.exceptions.RequestException):
        return ExecutorError(f"Docker engine at {where} did not answer properly{what}: {exc}")
    if isinstance(exc, docker.errors.DockerException):
        return ExecutorError(f"Docker error{what}: {exc}")
    return ExecutorError(f"I/O error talking to the Docker engine at {where}{what}: {exc}")


@contextmanager
def docker_errors(base_url: str = "", *, image: str | None = None, doing: str = "") -> Iterator[None]:
    """Translate Docker SDK exceptions raised inside the block into ExecutorError."""
    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise translate(exc, base_url=base_url, image=image, doing=doing) from exc
