"""Building images through the engine's /build endpoint, with the log streamed line by line.

    derived_dockerfile(base, commands)         FROM base + one RUN per command (docker: build:)
    derived_tag(base_id, commands, settings)   dockerflow-build:<sha256>
    context_tar(dockerfile, folder=None)       an in-memory build context (never the project)
    build_image(api, context, tag, ...)        stream the build; return the image id or raise BuildFailed

We call /build ourselves (through the SDK's APIClient) rather than `APIClient.build` because
the latter cannot pass `--ulimit`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import docker

from dockerflow.executors.docker_errors import BuildFailed, docker_errors
from dockerflow.executors.docker_options import DEFAULT_NETWORK, BuildSettings

BUILD_REPOSITORY = "dockerflow-build"
LOG_TAIL_LINES = 30
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def derived_dockerfile(base: str, commands: Sequence[str]) -> str:
    """The Dockerfile of a `docker: build:` image: FROM base, then one RUN per command line."""
    lines = [f"FROM {base}"]
    lines += [f"RUN {command}" for command in commands]
    return "\n".join(lines) + "\n"


def derived_tag(base_image_id: str, commands: Sequence[str], settings: BuildSettings) -> str:
    """`dockerflow-build:<sha256 of (base image id, commands, build options)>`."""
    payload = json.dumps([base_image_id, list(commands), settings.fingerprint()])
    return f"{BUILD_REPOSITORY}:{hashlib.sha256(payload.encode()).hexdigest()}"


def context_tar(dockerfile: str | None = None, folder: Path | None = None) -> bytes:
    """A build context: the files of `folder` (if any) plus `dockerfile` as ./Dockerfile."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if folder is not None:
            for path in sorted(folder.rglob("*")):
                tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
        if dockerfile is not None:
            data = dockerfile.encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _build_params(
    tag: str, settings: BuildSettings, buildargs: Mapping[str, str], labels: Mapping[str, str]
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "t": tag, "q": False, "rm": True, "forcerm": True, "nocache": settings.nocache, "pull": settings.pull
    }
    args = {**settings.buildargs, **buildargs}
    if args:
        params["buildargs"] = json.dumps(args)
    all_labels = {**settings.labels, **labels}
    if all_labels:
        params["labels"] = json.dumps(all_labels)
    # Build steps share the host's network unless build_options say otherwise, like the
    # containers of tasks (docker_options.DEFAULT_NETWORK): no bridge is needed to build.
    params["networkmode"] = settings.network or DEFAULT_NETWORK
    if settings.extra_hosts:
        params["extrahosts"] = [f"{host}:{ip}" for host, ip in settings.extra_hosts.items()]
    if settings.shm_size:
        params["shmsize"] = settings.shm_size
    if settings.memory:
        params["memory"] = settings.memory
    if settings.ulimits:
        params["ulimits"] = json.dumps([{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in settings.ulimits])
    return params


def build_image(
    api: docker.APIClient,
    *,
    context: bytes,
    tag: str,
    on_line: Callable[[str], None],
    settings: BuildSettings | None = None,
    buildargs: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Build `context` as `tag`, streaming each log line to `on_line`; return the image id.

    Raises BuildFailed (with the last lines of the log) when a step fails.
    """
    settings = settings or BuildSettings()
    params = _build_params(tag, settings, buildargs or {}, labels or {})
    tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
    partial = ""

    def emit(text: str) -> None:
        nonlocal partial
        text = _ANSI.sub("", partial + text)
        *lines, partial = text.split("\n")
        for line in lines:
            line = line.rstrip("\r")
            tail.append(line)
            on_line(line)

    error: str | None = None
    with docker_errors(api.base_url, doing=f"building {tag}"):
        response = api._post(
            api._url("/build"),
            data=context,
            params=params,
            headers={"Content-Type": "application/tar"},
            stream=True,
            timeout=None,
        )
        api._raise_for_status(response)
        try:
            for chunk in api._stream_helper(response, decode=True):
                if "stream" in chunk:
                    emit(chunk["stream"])
                elif "status" in chunk:  # pull progress of the FROM image
                    emit(f"{chunk['status']} {chunk.get('progress', '')}".rstrip() + "\n")
                if "error" in chunk or "errorDetail" in chunk:
                    error = chunk.get("error") or chunk["errorDetail"].get("message", "unknown error")
                    emit(f"ERROR: {error}\n")
        finally:
            response.close()
    if partial:
        emit("\n")
    if error is not None:
        raise BuildFailed(tag, error.strip(), list(tail))
    with docker_errors(api.base_url, image=tag, doing=f"inspecting the built image {tag}"):
        return str(api.inspect_image(tag)["Id"])
