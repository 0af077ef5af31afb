"""Notifications between the processes sharing a store: `listen` / `notify` by channel name.

A notification carries no data: it says "look again" (a row was queued, an outcome was
stored, an attempt was canceled). A listener remembers that it was notified until its next
`wait`, so a notification sent between two waits is not lost; several coalesce into one.

    PostgreSQL  LISTEN/NOTIFY on `dockerflow_<channel>`; each listener owns an autocommit
                connection and waits on its socket with select().
    SQLite      (processes on one machine) each listener binds a Unix datagram socket per
                channel in a folder derived from the database's real path,
                /tmp/dockerflow-notify-<uid>/<sha1(path)[:16]>/<channel>.<pid>.<random>.sock;
                notify sends one byte to every socket of the channel and removes the sockets
                whose owner is gone.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import select
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from dockerflow.errors import UserInputError

PG_PREFIX = "dockerflow_"
_CHANNEL = re.compile(r"[A-Za-z0-9_]{1,32}")
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def check_channel(channel: str) -> str:
    if not _CHANNEL.fullmatch(channel):
        raise ValueError(f"bad notification channel {channel!r}: use 1-32 letters, digits or _")
    return channel


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


# -- SQLite: Unix datagram sockets -------------------------------------------------------------
def socket_folder(db_path: str | os.PathLike[str]) -> Path:
    """The folder holding the listeners' sockets of one database file (made, mode 0700)."""
    base = Path("/tmp") if os.path.isdir("/tmp") else Path(tempfile.gettempdir())
    top = base / f"dockerflow-notify-{os.getuid()}"
    digest = hashlib.sha1(os.fsencode(os.path.realpath(db_path)), usedforsecurity=False)
    folder = top / digest.hexdigest()[:16]
    for path in (top, folder):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise UserInputError(f"{path} is not a folder of this user: remove it (it holds"
                                 " dockerflow's notification sockets)")
    return folder


class SocketListener:
    """Waits on one bound datagram socket per channel."""

    def __init__(self, folder: Path, channels: tuple[str, ...]) -> None:
        if not channels:
            raise ValueError("listen: name at least one channel")
        self.socks: list[socket.socket] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        try:
            for channel in channels:
                path = str(folder / f"{check_channel(channel)}.{os.getpid()}"
                                    f".{os.urandom(4).hex()}.sock")
                if len(os.fsencode(path)) >= _MAX_SOCKET_PATH:
                    raise UserInputError(f"notification socket path too long: {path}")
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self.socks.append(sock)
                sock.setblocking(False)
                sock.bind(path)
                self.paths.append(path)
        except BaseException:
            self.close()
            raise

    def wait(self, timeout: float | None) -> bool:
        with self.lock:
            if not self.socks:
                raise RuntimeError("wait on a closed listener")
            ready, _, _ = select.select(self.socks, [], [], None if timeout is None
                                        else max(0.0, timeout))
            if not ready:
                return False
            for sock in self.socks:  # coalesce: drain everything pending
                while True:
                    try:
                        sock.recv(64)
                    except (BlockingIOError, InterruptedError):
                        break
            return True

    def close(self) -> None:
        for path in self.paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        for sock in self.socks:
            sock.close()
        self.paths, self.socks = [], []

    def __enter__(self) -> SocketListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SocketHub:
    """The notification side of one SQLite database: makes listeners, sends notifications."""

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.folder = socket_folder(db_path)
        self.sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sender.setblocking(False)

    def listen(self, *channels: str) -> SocketListener:
        return SocketListener(self.folder, channels)

    def notify(self, channel: str) -> None:
        prefix = check_channel(channel) + "."
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:  # removed under us (a /tmp cleaner): recreate for listeners
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return
        for entry in entries:
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(".sock")):
                continue
            try:
                self.sender.sendto(b"\1", entry.path)
            except (BlockingIOError, InterruptedError):
                pass  # its queue is full: it has notifications pending already
            except OSError as exc:
                if exc.errno == errno.ECONNREFUSED:  # nobody bound to it: a dead process's
                    try:
                        os.unlink(entry.path)
                    except FileNotFoundError:
                        pass
                elif exc.errno not in (errno.ENOENT, errno.ENOBUFS, errno.EAGAIN, errno.EPERM,
                                       errno.EACCES):
                    raise

    def close(self) -> None:
        self.sender.close()


# -- PostgreSQL: LISTEN / NOTIFY ---------------------------------------------------------------
def pg_channel(channel: str) -> str:
    return PG_PREFIX + check_channel(channel)


class PgListener:
    """LISTENs on its own autocommit connection; waits with select() on its socket."""

    def __init__(self, connect: Any, channels: tuple[str, ...]) -> None:
        """`connect(autocommit=True)` returns a new psycopg connection."""
        if not channels:
            raise ValueError("listen: name at least one channel")
        names = [pg_channel(c) for c in channels]
        from psycopg import sql

        self.pending = False
        self.lock = threading.Lock()
        self.conn = connect(autocommit=True)
        # Notifications psycopg reads while it runs a statement go to handlers, not to libpq's
        # queue that wait() reads: remember them.
        self.conn.add_notify_handler(self._on_notify)
        try:
            self.conn.execute(sql.SQL("; ").join(
                sql.SQL("LISTEN {}").format(sql.Identifier(n)) for n in names))
        except BaseException:
            self.conn.close()
            raise

    def _on_notify(self, notify: Any) -> None:
        self.pending = True

    def _drain(self) -> bool:
        pgconn = self.conn.pgconn
        pgconn.consume_input()
        got = False
        while pgconn.notifies() is not None:
            got = True
        return got

    def wait(self, timeout: float | None) -> bool:
        with self.lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            got = self._drain() or self.pending
            self.pending = False
            while not got:
                remaining = _remaining(deadline)
                if remaining == 0.0:
                    return False
                ready, _, _ = select.select([self.conn.pgconn.socket], [], [], remaining)
                if ready:
                    got = self._drain()
            while self._drain():  # coalesce whatever else already arrived
                pass
            return True

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PgListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
