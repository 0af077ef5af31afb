"""Streaming a container's output: attach before start, split into lines, lose nothing.

    attach(api, container_id) -> Attachment     hijacked /attach?logs=1&stream=1 (before start)
    Attachment.pump(on_output)                  frames -> utf-8 lines -> on_output, until EOF
    LineSplitter                                bytes in, complete lines out (partial kept)

Attaching before `start` (as `docker run` does) means even a container that prints and exits
at once cannot lose a line. We attach through the SDK's APIClient plumbing rather than
`APIClient.attach` because the latter inspects the container first (one more round trip on
the hot path) just to learn whether it has a TTY; ours never do.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from typing import Any

import docker
from docker.utils.socket import SocketError


class LineSplitter:
    """Turns a byte stream into lines (utf-8, bad bytes replaced); keeps a partial last line."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._on_line = on_line
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> None:
        text = self._partial + self._decoder.decode(data)
        if "\n" not in text:
            self._partial = text
            return
        *lines, self._partial = text.split("\n")
        for line in lines:
            self._on_line(line[:-1] if line.endswith("\r") else line)

    def close(self) -> None:
        """Flush the last line even when it has no trailing newline."""
        text = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if text:
            self._on_line(text[:-1] if text.endswith("\r") else text)


class Attachment:
    """A hijacked connection to a container's stdout/stderr (multiplexed, no TTY)."""

    def __init__(self, response: Any, frames: Iterator[tuple[bytes | None, bytes | None]]) -> None:
        self._response = response
        self._frames = frames

    def pump(self, on_output: Callable[[str], None]) -> None:
        """Deliver every line to `on_output` until the container's streams close.

        stdout and stderr keep separate partial lines so an interleaved frame of one cannot
        split a line of the other.
        """
        out, err = LineSplitter(on_output), LineSplitter(on_output)
        try:
            for stdout, stderr in self._frames:
                if stdout:
                    out.feed(stdout)
                if stderr:
                    err.feed(stderr)
        except (OSError, ValueError, SocketError):
            pass  # the connection was closed under us (container removed): end of output
        finally:
            out.close()
            err.close()
            self.close()

    def close(self) -> None:
        try:
            self._response.close()
        except Exception:  # noqa: BLE001 - closing a dead connection must never fail a task
            pass


def attach(api: docker.APIClient, container_id: str) -> Attachment:
    """Attach to stdout/stderr of a created (not yet started) container; history included."""
    response = api._post(  # noqa: SLF001 - APIClient.attach would inspect the container first
        api._url("/containers/{0}/attach", container_id),  # noqa: SLF001
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        params={"logs": 1, "stdout": 1, "stderr": 1, "stream": 1},
        stream=True,
    )
    frames = api._read_from_socket(response, stream=True, tty=False, demux=True)  # noqa: SLF001
    return Attachment(response, frames)
