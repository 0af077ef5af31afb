"""Run a command as a host process, streaming its output line by line."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

from dockerflow.errors import ExecutorError
from dockerflow.executors.base import ExecRequest, ExecResult, ExitReason

GRACE_SECONDS = 5.0


class HostExecutor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._canceled = False

    def run(self, request: ExecRequest) -> ExecResult:
        env = dict(os.environ)
        env.update(request.env)
        try:
            proc = subprocess.Popen(request.argv, cwd=request.cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except FileNotFoundError as e:
            raise ExecutorError(f"cannot run {request.argv[0]!r}: {e.strerror}"
                                " (is it installed and on PATH?)") from None
        except NotADirectoryError:
            raise ExecutorError(f"working directory {request.cwd} does not exist") from None
        with self._lock:
            self._procs.add(proc)
            if self._canceled:
                _terminate(proc)
        timer = None
        timed_out = threading.Event()
        if request.timeout:
            def expire() -> None:
                timed_out.set()
                _terminate(proc)
            timer = threading.Timer(request.timeout, expire)
            timer.daemon = True
            timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                request.on_output(raw.decode("utf-8", "replace").rstrip("\r\n"))
            code = proc.wait()
        finally:
            if timer:
                timer.cancel()
            with self._lock:
                self._procs.discard(proc)
        if timed_out.is_set():
            return ExecResult(code, ExitReason.TIMEOUT, f"timed out after {request.timeout:g}s")
        if self._canceled:
            return ExecResult(code, ExitReason.CANCELED, "canceled")
        if code < 0:
            name = signal.Signals(-code).name
            return ExecResult(128 - code, ExitReason.SIGNAL, f"killed by signal {name}")
        return ExecResult(code)

    def cancel_all(self) -> None:
        with self._lock:
            self._canceled = True
            procs = list(self._procs)
        for p in procs:
            _terminate(p)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def kill_later() -> None:
        try:
            proc.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    threading.Thread(target=kill_later, daemon=True).start()
