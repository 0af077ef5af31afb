"""Notifications beyond the contract suite: across processes, sockets of dead listeners, paths."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dockerflow.store import open_store
from dockerflow.store.notify import SocketHub, socket_folder


def test_sockets_live_in_a_private_folder_per_database(tmp_path: Path) -> None:
    one, two = socket_folder(tmp_path / "a.db"), socket_folder(tmp_path / "b.db")
    assert one != two and one == socket_folder(tmp_path / "x" / ".." / "a.db")
    assert one.stat().st_mode & 0o777 == 0o700 and one.parent.stat().st_mode & 0o777 == 0o700
    hub = SocketHub(tmp_path / "a.db")
    listener = hub.listen("a" * 32)
    try:
        [path] = listener.paths
        assert len(os.fsencode(path)) < 100
        assert Path(path).parent == one and Path(path).name.startswith("a" * 32 + f".{os.getpid()}.")
    finally:
        listener.close()
        hub.close()
    assert not Path(path).exists()  # close() removes the socket


def test_a_notification_from_another_process(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = open_store(str(db))
    listener = store.listen("queue")
    try:
        code = ("import sys; from dockerflow.store import open_store;"
                " s = open_store(sys.argv[1]); s.notify('queue'); s.close()")
        subprocess.run([sys.executable, "-c", code, str(db)], check=True, timeout=60)
        assert listener.wait(5)
    finally:
        listener.close()
        store.close()


def test_sockets_of_dead_listeners_are_removed(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    folder = socket_folder(db)
    stale = folder / "queue.999999.deadbeef.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(stale))
    sock.close()  # the file stays, nobody receives on it: like a killed process's socket
    unrelated = folder / "queue-notes.txt"
    unrelated.write_text("not a socket of ours")
    store = open_store(str(db))
    listener = store.listen("queue")
    try:
        store.notify("queue")
        assert listener.wait(5)  # the live one still got it
        assert not stale.exists()
        assert unrelated.exists()
    finally:
        listener.close()
        store.close()
        unrelated.unlink()


def test_a_full_socket_queue_still_means_notified(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "state.db"))
    listener = store.listen("queue")
    try:
        for _ in range(5000):  # far more than a datagram queue holds: sends must not fail
            store.notify("queue")
        assert listener.wait(1)
        assert not listener.wait(0)  # drained in one go
    finally:
        listener.close()
        store.close()


def test_a_thread_wakes_another(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "state.db"))
    woke: list[float] = []
    listener = store.listen("attempt_1")
    ready = threading.Event()

    def waiter() -> None:
        ready.set()
        if listener.wait(10):
            woke.append(time.monotonic())

    thread = threading.Thread(target=waiter)
    thread.start()
    ready.wait()
    time.sleep(0.05)
    sent = time.monotonic()
    store.notify("attempt_1")
    thread.join(10)
    listener.close()
    store.close()
    assert woke and woke[0] - sent < 1


def test_postgres_notify_from_plain_sql(pg_url: str) -> None:
    """Another program can wake dockerflow's listeners with NOTIFY dockerflow_<channel>."""
    import psycopg

    store = open_store(pg_url)
    listener = store.listen("cancel")
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("NOTIFY dockerflow_cancel")
        assert listener.wait(5)
        assert not listener.wait(0.05)
    finally:
        listener.close()
        store.close()


def test_postgres_listener_survives_many_waits(pg_url: str) -> None:
    store, other = open_store(pg_url), open_store(pg_url)
    listener = store.listen("queue")
    try:
        for _ in range(20):
            other.notify("queue")
            assert listener.wait(5)
        assert not listener.wait(0.05)
    finally:
        listener.close()
        store.close()
        other.close()


@pytest.mark.parametrize("timeout", [0.0, 0.05])
def test_postgres_wait_with_short_timeouts(pg_url: str, timeout: float) -> None:
    store = open_store(pg_url)
    listener = store.listen("queue")
    try:
        started = time.monotonic()
        assert not listener.wait(timeout)
        assert time.monotonic() - started < timeout + 0.5
    finally:
        listener.close()
        store.close()
