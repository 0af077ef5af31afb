"""Run a command as a host process, streaming its output line by line."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping

from dockerflow.errors import ExecutorError
from dockerflow.executors.base import ExecRequest, ExecResult, ExitReason

GRACE_SECONDS = 5.0
STRAGGLER_SECONDS = 1.0  # after the task's shell has gone, what is left of its group gets this


# What a host task inherits from the engine's environment: enough to find programs, speak the
# user's language and reach a proxy. Nothing else: a server's database URL or tokens must never
# reach a task. Tasks add their own through `_env` and params (ExecRequest.env).
ENV_ALLOW = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
    "HOSTNAME", "PWD", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "http_proxy", "https_proxy",
    "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "PYTHONPATH", "VIRTUAL_ENV",
})
ENV_ALLOW_PREFIXES = ("LC_", "XDG_")


def host_env(environ: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """The part of `environ` a host task sees: ENV_ALLOW, LC_* and XDG_*, and `extra` names
    (DOCKERFLOW_HOST_ENV, comma-separated, when the composition root passes it)."""
    allowed = ENV_ALLOW | frozenset(extra)
    return {k: v for k, v in environ.items() if k in allowed or k.startswith(ENV_ALLOW_PREFIXES)}


class HostExecutor:
    """`environ`: the engine environment tasks may inherit from (filtered by host_env)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        source = os.environ if environ is None else environ
        extra = [n.strip() for n in source.get("DOCKERFLOW_HOST_ENV", "").split(",") if n.strip()]
        self._base_env = host_env(source, extra)
        self._lock = threading.Lock()
        self._procs: dict[subprocess.Popen[bytes], ExecRequest] = {}
        self._canceled = False

    def run(self, request: ExecRequest) -> ExecResult:
        if request.canceled.is_set():
            return ExecResult(-1, ExitReason.CANCELED, "canceled before it started")
        env = dict(self._base_env)
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
            self._procs[proc] = request
            if self._canceled or request.canceled.is_set():
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
                self._procs.pop(proc, None)
        if timed_out.is_set():
            return ExecResult(code, ExitReason.TIMEOUT, f"timed out after {request.timeout:g}s")
        if self._canceled or request.canceled.is_set():
            return ExecResult(code, ExitReason.CANCELED, "canceled")
        if code < 0:
            name = signal.Signals(-code).name
            return ExecResult(128 - code, ExitReason.SIGNAL, f"killed by signal {name}")
        return ExecResult(code)

    def cancel(self, match: Mapping[str, str]) -> None:
        with self._lock:
            procs = [p for p, r in self._procs.items() if r.matches(match)]
        for p in procs:
            _terminate(p)

    def cancel_all(self) -> None:
        with self._lock:
            self._canceled = True
            procs = list(self._procs)
        for p in procs:
            _terminate(p)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the task's process group; SIGKILL what is left after a grace period.

    The shell leads the group. When it has gone, the group may still hold processes: a child
    forked while the first signal was being delivered never received it (the kernel does not
    pass pending signals to a new child), and a process may ignore SIGTERM. So the group gets
    SIGTERM again once the leader is gone, and SIGKILL a moment later: a stopped task leaves
    nothing behind (its output pipe, held by such stragglers, closes with them)."""
    if not _signal_group(proc.pid, signal.SIGTERM):
        return

    def kill_later() -> None:
        try:
            proc.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            return
        if _signal_group(proc.pid, signal.SIGTERM):  # stragglers
            threading.Event().wait(STRAGGLER_SECONDS)
            _signal_group(proc.pid, signal.SIGKILL)

    threading.Thread(target=kill_later, daemon=True).start()


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed its user (setuid): nothing more to do here
        return False
    return True
