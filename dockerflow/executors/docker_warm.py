"""Warm containers (`docker: {reuse: true}`): the tasks of one attempt that would get the same
container run one after another in one long-lived container.

    WarmPool(container_args, stop_grace).run(api, request, options, image) -> ExecResult
        ├── key          the container's creation arguments without the per-task ones
        │                (command, environment, working directory, task label)
        ├── _acquire     an idle container of the key, or a new one: at most `limit` per key;
        │                a busy container is never shared (parallel tasks get their own)
        ├── _Channel     the container's attached stdin/stdout/stderr, kept open for its life
        ├── _run_task    a launcher script in the task's io folder (cd, export, exec argv),
        │                its path sent to the agent; output lines until the agent's end markers
        ├── timeout /    SIGUSR1 to the container: the agent sends SIGTERM to the task (as the
        │   cancel       init process does for a task container); after the grace period the
        │                container is removed, which kills what is left; it is not reused
        ├── result       the exit code from the agent; OOM from the container's `oom` events
        │                (OOMKilled is only set when the container itself dies)
        └── release      idle again; or removed after a timeout, cancel, OOM, a dead container
    WarmPool.cancel_all()  Ctrl-C / SIGTERM: stop running tasks, remove every warm container
    WarmPool.close()       the end of the attempt: remove every warm container

Why an agent and not `docker exec`: an exec costs the engine 30-70 ms (runc joins the
container's namespaces and cgroups each time), about half of what a new container costs, so
short tasks would gain little. The agent is a few lines of /bin/sh, the container's main
process (after the init process): it reads `<token> <launcher path>` lines from stdin, runs
each launcher in a subshell (stdin /dev/null) as a child, waits for it, kills what the task
left running (`kill -KILL -1`: every process of the container but init and the agent), and
prints `<token> <exit code>` on stdout and `<token>` on stderr, each after a newline. Its
own messages (the shell's "Terminated" for a job killed by a signal) go to /dev/null. The
launcher holds the task's environment (never a command line), is only readable by the task's
user when that is you or root, and is deleted when the task ends.

Warm containers carry the owner labels of task containers plus `dockerflow.warm=1`, so the
next run's reaper (or `dockerflow gc`) removes those of a dockerflow process that died (their
stdin closes with the process, so the agent exits once the running task ends). The image needs
/bin/sh; its ENTRYPOINT is not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.utils.socket import STDERR, STDOUT
from docker.utils.socket import read as socket_read

from dockerflow.errors import ExecutorError
from dockerflow.executors.base import ExecRequest, ExecResult, ExitReason
from dockerflow.executors.docker_errors import docker_errors, retrying
from dockerflow.executors.docker_images import ResolvedImage
from dockerflow.executors.docker_options import DockerOptions, effective_timeout
from dockerflow.executors.docker_reaper import TASK
from dockerflow.executors.docker_stream import LineSplitter

WARM = "dockerflow.warm"
DEFAULT_LIMIT = 32  # warm containers per key at most (tasks beyond it wait for an idle one)
OOM_EVENT_WAIT = 1.0  # seconds to wait for the engine's `oom` event after an exit 137
LAUNCHER = "warm-launch.sh"
AGENT = """
exec 3>&2 2>/dev/null
trap '[ -n "$p" ] && kill -s TERM "$p"' USR1
trap 'exit 0' TERM INT
p=
while IFS=' ' read -r t f; do
  ( . "$f" ) </dev/null 2>&3 3>&- &
  p=$!
  while :; do
    wait "$p"; c=$?
    if [ "$c" -gt 128 ] && kill -s 0 "$p" 2>/dev/null; then continue; fi
    break
  done
  p=
  kill -s KILL -- -1
  printf '\\n%s %s\\n' "$t" "$c"
  printf '\\n%s\\n' "$t" >&3
done
"""
AGENT_COMMAND = ["/bin/sh", "-c", AGENT]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

ContainerArgs = Callable[[docker.APIClient, ExecRequest, DockerOptions, ResolvedImage], dict[str, Any]]


def quote(text: str) -> str:
    """A POSIX shell single-quoted word."""
    return "'" + text.replace("'", "'\\''") + "'"


def launcher(argv: list[str], env: dict[str, str], workdir: str) -> str:
    """The script the agent sources in a subshell: cd, export the task's environment, exec."""
    bad = sorted(k for k in env if not _NAME.match(k))
    if bad:
        raise ExecutorError(f"docker: reuse: true needs environment variable names that are shell names: {bad}")
    lines = [f"cd -- {quote(workdir)} || exit", "unset OLDPWD"]  # as a new container's process has
    lines += [f"export {k}={quote(v)}" for k, v in env.items()]
    lines.append("exec " + " ".join(quote(a) for a in argv))
    return "\n".join(lines) + "\n"


class _Channel:
    """The attached stdio of a warm container: requests out, multiplexed frames in."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self._raw = getattr(sock, "_sock", sock)

    def send(self, data: bytes) -> None:
        self._raw.sendall(data)

    def _exactly(self, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            chunk = socket_read(self.sock, n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def frame(self) -> tuple[int, bytes] | None:
        """The next (stream, payload) frame; None at the end (the container stopped)."""
        while True:
            header = self._exactly(8)
            if header is None:
                return None
            kind, length = struct.unpack(">BxxxL", header)
            if not length:
                continue
            data = self._exactly(length)
            return None if data is None else (kind, data)

    def readable(self) -> bool:
        return bool(select.select([self._raw], [], [], 0)[0])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sock.close()
        response = getattr(self.sock, "_response", None)
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()


class _Stream:
    """One output stream of one task: lines to on_output until the agent's end marker. The
    newline the agent writes before its marker ends a partial last line, or makes an empty
    line that is not the task's: an empty line is held back until the next one."""

    def __init__(self, token: str, on_output: Callable[[str], None]) -> None:
        self.token = token
        self.on_output = on_output
        self.done = False
        self.code: int | None = None
        self._held = False

    def line(self, text: str) -> None:
        if self.done:
            return
        if text == self.token or text.startswith(self.token + " "):
            self.done = True
            self._held = False
            with contextlib.suppress(ValueError):
                self.code = int(text[len(self.token):])
            return
        if self._held:
            self._held = False
            self.on_output("")
        if text == "":
            self._held = True
        else:
            self.on_output(text)

    def flush(self) -> None:
        if self._held:
            self._held = False
            self.on_output("")


@dataclass
class _Job:
    """One task running in a warm container."""

    warm: _Warm
    out: _Stream
    err: _Stream
    labels: dict[str, str] = field(default_factory=dict)  # the request's, for cancel(match)
    timed_out: bool = False
    canceled: bool = False
    stopping: bool = False
    finished: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Warm:
    """A warm container of this pool and its attached stdio."""

    id: str
    name: str
    key: str
    created: float
    channel: _Channel | None = None
    busy: bool = True
    dead: bool = False
    job: _Job | None = None
    splitters: dict[int, LineSplitter] = field(default_factory=dict)

    def route(self, kind: int) -> Callable[[str], None]:
        def on_line(text: str) -> None:
            job = self.job
            if job is not None:
                (job.err if kind == STDERR else job.out).line(text)

        return on_line


class WarmPool:
    """The warm containers of one executor (one attempt); thread-safe."""

    def __init__(self, container_args: ContainerArgs, *, stop_grace: float = 5.0, limit: int = DEFAULT_LIMIT) -> None:
        self._container_args = container_args
        self._grace = stop_grace
        self._limit = max(1, limit)
        self._cond = threading.Condition()
        self._containers: dict[str, _Warm] = {}
        self._pending: dict[str, int] = {}
        self._canceled = False
        self._api: docker.APIClient | None = None
        self.created = 0  # containers made (tests, bench)

    # ------------------------------------------------------------ run

    def run(
        self, api: docker.APIClient, request: ExecRequest, options: DockerOptions, image: ResolvedImage
    ) -> ExecResult:
        """Run the request in a warm container of its key (made when none is idle)."""
        self._api = api
        args = self._container_args(api, request, options, image)
        argv: list[str] = args.pop("command")
        env: dict[str, str] = args.pop("environment")
        workdir: str = args.pop("working_dir")
        args["labels"] = {**{k: v for k, v in args["labels"].items() if k != TASK}, WARM: "1"}
        args["working_dir"] = options.run.workdir or str(request.project_dir)
        key = image.id + " " + json.dumps(args, sort_keys=True, default=str)
        script = launcher(argv, env, workdir)
        timeout = effective_timeout(options.timeout, request.timeout)
        for _ in range(3):  # an idle container that died meanwhile: take another
            warm = self._acquire(api, key, args, image, request, options)
            if warm is None:
                return ExecResult(-1, ExitReason.CANCELED, "canceled before the task started")
            keep = False
            try:
                started = self._start_task(warm, request, script, str(args.get("user") or ""))
                if started is None:
                    continue
                result, keep = self._finish_task(api, started, request, options, timeout)
                return result
            finally:
                (request.io_dir / LAUNCHER).unlink(missing_ok=True)
                if keep:
                    self._release(warm)
                else:
                    self._retire(api, warm, request.on_output)
        raise ExecutorError(f"{request.task_name}: the warm containers of its image keep stopping")

    def _acquire(
        self, api: docker.APIClient, key: str, args: dict[str, Any], image: ResolvedImage,
        request: ExecRequest, options: DockerOptions,
    ) -> _Warm | None:
        with self._cond:
            while True:
                if self._canceled or request.canceled.is_set():
                    return None
                for warm in self._containers.values():
                    if warm.key == key and not warm.busy and not warm.dead:
                        warm.busy = True
                        return warm
                alive = sum(1 for w in self._containers.values() if w.key == key and not w.dead)
                if alive + self._pending.get(key, 0) < self._limit:
                    self._pending[key] = self._pending.get(key, 0) + 1
                    break
                self._cond.wait(1.0)
        try:
            return self._create(api, key, args, image, request, options)
        finally:
            with self._cond:
                self._pending[key] -= 1
                self._cond.notify_all()

    def _create(
        self, api: docker.APIClient, key: str, args: dict[str, Any], image: ResolvedImage,
        request: ExecRequest, options: DockerOptions,
    ) -> _Warm | None:
        name = f"dockerflow-warm-{uuid.uuid4().hex[:12]}"
        # stdin open and closed when our attach ends (StdinOnce): a dead dockerflow's agent exits
        kwargs = {**args, "detach": False, "stdin_open": True}

        def create() -> str:
            try:
                return str(api.create_container(image.id, name=name, entrypoint=AGENT_COMMAND, **kwargs)["Id"])
            except docker.errors.APIError as exc:  # a retried create that had in fact succeeded
                if exc.status_code == 409 and "already in use" in str(exc.explanation):
                    return str(api.inspect_container(name)["Id"])
                raise

        doing = f"creating a warm container for {request.task_name}"
        with docker_errors(api.base_url, image=options.image, doing=doing):
            warm = _Warm(retrying(create), name, key, time.time())
        with self._cond:
            self._containers[warm.id] = warm
            self.created += 1
            canceled = self._canceled
        if canceled:
            self._retire(api, warm, request.on_output)
            return None
        try:
            with docker_errors(api.base_url, image=options.image,
                               doing=f"starting a warm container for {request.task_name}"):
                params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                sock = api.attach_socket(warm.id, params=params)  # before start: no byte missed
                api._disable_socket_timeout(sock)  # a quiet task may print nothing for long
                warm.channel = _Channel(sock)
                warm.splitters = {STDOUT: LineSplitter(warm.route(STDOUT)), STDERR: LineSplitter(warm.route(STDERR))}
                retrying(lambda: api.start(warm.id))
        except ExecutorError as exc:
            self._retire(api, warm, request.on_output)
            raise ExecutorError(f"{exc} (a warm container, docker: reuse: true, needs /bin/sh in the image)") from exc
        return warm

    def _start_task(self, warm: _Warm, request: ExecRequest, script: str, user: str) -> _Job | None:
        """Write the launcher and hand it to the agent; None when the container turned out dead
        (the task did not start)."""
        channel = warm.channel
        if channel is None or not self._alive(warm):
            warm.dead = True
            return None
        path = request.io_dir / LAUNCHER
        private = user.split(":")[0] == str(os.getuid())  # else the task's user may not read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(script)
        token = f"\x1edockerflow-{uuid.uuid4().hex}"
        job = _Job(warm, _Stream(token, request.on_output), _Stream(token, request.on_output),
                   dict(request.labels))
        with self._cond:
            if self._canceled or request.canceled.is_set():
                job.canceled = True
            warm.job = job
        if job.canceled:
            return job
        try:
            channel.send(f"{token} {path}\n".encode())
        except OSError:
            warm.dead = True
            warm.job = None
            return None
        return job

    def _alive(self, warm: _Warm) -> bool:
        """An idle container's stdio has nothing to say; the end of it means it stopped."""
        channel = warm.channel
        assert channel is not None
        try:
            while channel.readable():
                if channel.frame() is None:
                    return False
        except OSError:
            return False
        return True

    def _finish_task(
        self, api: docker.APIClient, job: _Job, request: ExecRequest, options: DockerOptions, timeout: float | None
    ) -> tuple[ExecResult, bool]:
        """Read the task's output until the agent's markers; (its result, reuse the container)."""
        warm = job.warm
        channel = warm.channel
        assert channel is not None
        timer: threading.Timer | None = None
        ended = True
        try:
            if job.canceled:
                return ExecResult(-1, ExitReason.CANCELED, "canceled before the task started"), False
            if timeout is not None:
                timer = threading.Timer(timeout, self._stop, args=(api, job), kwargs={"timed_out": True})
                timer.daemon = True
                timer.start()
            while not (job.out.done and job.err.done):
                try:
                    frame = channel.frame()
                except OSError:
                    frame = None
                if frame is None:  # the container stopped (or was removed) under the task
                    ended = False
                    for splitter in warm.splitters.values():
                        splitter.close()
                    break
                kind, data = frame
                warm.splitters.get(kind, warm.splitters[STDOUT]).feed(data)
            with job.lock:
                job.finished = True
        finally:
            job.out.flush()
            job.err.flush()
            job.done.set()
            if timer is not None:
                timer.cancel()
            with self._cond:
                warm.job = None
        if not ended:
            warm.dead = True
        return self._result(api, job, job.out.code if ended else None, options, timeout)

    def _result(
        self, api: docker.APIClient, job: _Job, code: int | None, options: DockerOptions, timeout: float | None
    ) -> tuple[ExecResult, bool]:
        exit_code = -1 if code is None else code
        if job.timed_out:
            return ExecResult(exit_code, ExitReason.TIMEOUT, f"timed out after {timeout:g}s"), False
        if job.canceled:
            return ExecResult(exit_code, ExitReason.CANCELED, "canceled"), False
        if code == 0:
            return ExecResult(0), True
        warm = job.warm
        with docker_errors(api.base_url, doing=f"inspecting the warm container {warm.name}"):
            try:
                state = retrying(lambda: api.inspect_container(warm.id))["State"]
            except docker.errors.NotFound:
                state = {}
            oom = bool(state.get("OOMKilled")) or (
                exit_code in (-1, 137) and bool(options.run.mem_limit) and self._oom_seen(api, warm))
        if oom:
            limit = options.run.memory_text or "none set"
            message = f"container killed: out of memory (memory limit {limit})"
            return ExecResult(exit_code, ExitReason.OOM, message), False
        if code is None:
            message = f"the warm container {warm.name} stopped while the task ran"
            return ExecResult(-1, ExitReason.SIGNAL, message), False
        if 128 < code <= 128 + 64:
            try:
                name = signal.Signals(code - 128).name
            except ValueError:
                name = f"signal {code - 128}"
            return ExecResult(code, ExitReason.SIGNAL, f"killed by {name} (exit code {code})"), True
        return ExecResult(code), True

    def _oom_seen(self, api: docker.APIClient, warm: _Warm) -> bool:
        """Whether the engine reported an OOM kill in this container (it may come a moment
        after the exit is seen). A container is retired after its first OOM, so any OOM in its
        life is this task's."""
        deadline = time.monotonic() + OOM_EVENT_WAIT
        while True:
            events = api.events(since=f"{warm.created - 1:.9f}", until=f"{time.time():.9f}", decode=True,
                                filters={"container": warm.id, "event": "oom"})
            try:
                if any(True for _ in events):
                    return True
            finally:
                events.close()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    # ------------------------------------------------------------ stop / release

    def _stop(self, api: docker.APIClient, job: _Job, *, timed_out: bool = False) -> None:
        """SIGTERM to the task (through the agent); after the grace period the container is
        removed, which kills whatever is left. The container is not reused afterwards."""
        with job.lock:
            if job.finished or job.stopping:
                return
            job.stopping = True
            if timed_out:
                job.timed_out = True
            else:
                job.canceled = True
        warm = job.warm
        with contextlib.suppress(Exception):
            api.kill(warm.id, signal="SIGUSR1")
        if not job.done.wait(self._grace):
            warm.dead = True
            self._remove(api, warm)

    def _release(self, warm: _Warm) -> None:
        with self._cond:
            warm.busy = False
            self._cond.notify_all()

    def _retire(self, api: docker.APIClient, warm: _Warm, say: Callable[[str], None] | None = None) -> None:
        """Remove the container (force); a failure is reported, not raised (close() and the
        reaper try again)."""
        warm.dead = True
        error = self._remove(api, warm)
        if error and say is not None:
            say(f"[dockerflow] warning: could not remove the warm container {warm.name}: {error}")
        with self._cond:
            self._cond.notify_all()

    def _remove(self, api: docker.APIClient, warm: _Warm) -> str | None:
        try:
            retrying(lambda: api.remove_container(warm.id, force=True))
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - kept in the table for close() / the reaper
            return str(exc)
        if warm.channel is not None:
            warm.channel.close()
        with self._cond:
            self._containers.pop(warm.id, None)
        return None

    def cancel(self, match: Mapping[str, str]) -> None:
        """Stop the running tasks whose labels include `match`; other tasks and the idle
        containers stay."""
        with self._cond:
            jobs = [w.job for w in self._containers.values() if w.job is not None
                    and all(w.job.labels.get(k) == v for k, v in match.items())]
            self._cond.notify_all()
        api = self._api
        if api is None:
            return
        _run_all([threading.Thread(target=self._stop, args=(api, job), daemon=True) for job in jobs],
                 self._grace + 30)

    def cancel_all(self) -> None:
        """Stop the running tasks (SIGTERM, then the container is removed after the grace
        period) and remove every warm container; later runs return CANCELED."""
        with self._cond:
            self._canceled = True
            jobs = [w.job for w in self._containers.values() if w.job is not None]
            idle = [w for w in self._containers.values() if w.job is None]
            self._cond.notify_all()
        api = self._api
        if api is None:
            return
        threads = [threading.Thread(target=self._stop, args=(api, job), daemon=True) for job in jobs]
        threads += [threading.Thread(target=self._retire, args=(api, w), daemon=True) for w in idle]
        _run_all(threads, self._grace + 30)
        self.close()

    def close(self) -> None:
        """Remove every warm container (the end of the attempt)."""
        with self._cond:
            left = list(self._containers.values())
        api = self._api
        if api is None or not left:
            return
        if len(left) == 1:
            self._retire(api, left[0])
            return
        _run_all([threading.Thread(target=self._retire, args=(api, w), daemon=True) for w in left], 60)


def _run_all(threads: list[threading.Thread], timeout: float) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)

