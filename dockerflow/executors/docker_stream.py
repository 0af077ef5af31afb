"""Streaming a container's output: follow its log, split into lines, lose nothing.

    follow(api, container_id) -> LogStream     GET /logs?follow=1 (after start): the whole log
    LogStream.pump(on_output)                  frames -> utf-8 lines -> on_output, until EOF
    LineSplitter                               bytes in, complete lines out (partial kept)

Why the log and not /attach: the engine answers an attach request before it has hooked the
container's streams, so output written in between is lost (or, with logs=1, duplicated).
The log endpoint reads the container's log from its first byte and follows it until the
container stops, so even a container that prints and exits at once loses no line. We call
the endpoint through the SDK's APIClient plumbing rather than `APIClient.logs` because the
latter inspects the container first (one more round trip on the hot path) to learn whether
it has a TTY; ours never do.
"""

from __future__ import annotations

import codecs
import contextlib
import struct
from collections.abc import Callable, Iterator
from typing import Any

import docker
from docker.utils.socket import STDERR, STDOUT
from urllib3.exceptions import ProtocolError


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
            self._on_line(line.removesuffix("\r"))

    def close(self) -> None:
        """Flush the last line even when it has no trailing newline."""
        text = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if text:
            self._on_line(text.removesuffix("\r"))


class LogStream:
    """A followed container log: multiplexed frames (stream type, length, payload), no TTY."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        raw = self._response.raw
        while True:
            header = raw.read(8)
            if len(header) < 8:
                return
            kind, length = struct.unpack(">BxxxL", header)
            if not length:
                continue
            data = raw.read(length)
            if not data:
                return
            yield kind, data

    def pump(self, on_output: Callable[[str], None]) -> None:
        """Deliver every line to `on_output` until the log ends (the container stopped).

        stdout and stderr keep separate partial lines so an interleaved frame of one cannot
        split a line of the other.
        """
        splitters = {STDOUT: LineSplitter(on_output), STDERR: LineSplitter(on_output)}
        try:
            for kind, data in self._frames():
                splitters.get(kind, splitters[STDOUT]).feed(data)
        except (OSError, ValueError, ProtocolError):
            pass  # the connection was closed under us (container removed): end of output
        finally:
            for splitter in splitters.values():
                splitter.close()
            self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection must never fail a task
            self._response.close()


def follow(api: docker.APIClient, container_id: str) -> LogStream:
    """Follow stdout/stderr of a started container from its first byte."""
    response = api._get(
        api._url("/containers/{0}/logs", container_id),
        params={"stdout": 1, "stderr": 1, "follow": 1, "timestamps": 0, "tail": "all"},
        stream=True,
    )
    api._raise_for_status(response)
    # A quiet task may print nothing for longer than the client's timeout.
    api._disable_socket_timeout(api._get_raw_response_socket(response))
    return LogStream(response)
