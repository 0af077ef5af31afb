"""The Docker executor: run one command in a container through the Docker SDK (never the CLI).

    DockerExecutor.run(request)                           request.docker: DockerOptions, parsed
        ├── ImageResolver.resolve / has_python            docker_images (cached per run)
        ├── create   (labels, mounts, user, env, limits; no auto-remove)
        ├── start    (+ a timer for the timeout)
        ├── follow the log: lines to request.on_output     docker_stream (from byte 0: none lost)
        ├── wait     -> exit code; inspect OOMKilled only when it failed
        └── remove   (force, in `finally`)
        (docker: {reuse: true}: run in a warm container of the attempt instead, docker_warm)
    DockerExecutor.cancel_all()   stop (grace, then kill) every running container; runs -> CANCELED
    reap_orphans(client)          remove containers of dead dockerflow processes (docker_reaper)

The client is created lazily, so a workflow with no `docker:` task never connects. Docker
errors become ExecutorError in docker_errors; transient ones are retried there.

An engine that does not answer at the first contact fails the task with EngineUnavailable.
An engine that stops answering later (a restart while a container is created, started,
followed or waited for) is an infrastructure fault: `run` says so in the task's output, waits
for the engine (bounded: `engine_wait`, default $DOCKERFLOW_ENGINE_WAIT or 60 s), removes
what is left of the task's container, and raises EngineLost(recovered=True) so that the runner
can run the task again; EngineLost(recovered=False) when the engine stays away.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import docker.types
import requests.exceptions

from dockerflow.errors import EngineLost, EngineUnavailable, ExecutorError
from dockerflow.executors.base import ExecRequest, ExecResult, ExitReason
from dockerflow.executors.docker_errors import (
    docker_errors,
    engine_address,
    engine_answered,
    engine_down_message,
    retrying,
    translate,
)
from dockerflow.executors.docker_images import ImageResolver, ResolvedImage
from dockerflow.executors.docker_options import DockerOptions, effective_timeout
from dockerflow.executors.docker_reaper import TASK, owner_labels, reap_orphans
from dockerflow.executors.docker_stream import follow
from dockerflow.executors.docker_warm import WarmPool

__all__ = ["DockerExecutor", "reap_orphans", "engine_wait_seconds"]

# How long a task waits for an engine that stopped answering while it ran (seconds; 0: not at
# all). DOCKERFLOW_ENGINE_WAIT overrides the default for a whole run.
ENGINE_WAIT_ENV = "DOCKERFLOW_ENGINE_WAIT"
DEFAULT_ENGINE_WAIT = 60.0


def engine_wait_seconds(environ: Mapping[str, str] | None = None) -> float:
    """$DOCKERFLOW_ENGINE_WAIT seconds (a number >= 0), else 60."""
    text = (os.environ if environ is None else environ).get(ENGINE_WAIT_ENV, "").strip()
    if not text:
        return DEFAULT_ENGINE_WAIT
    try:
        value = float(text)
    except ValueError:
        raise ExecutorError(f"{ENGINE_WAIT_ENV}={text!r}: expected a number of seconds") from None
    if not value >= 0:  # also refuses nan
        raise ExecutorError(f"{ENGINE_WAIT_ENV}={text!r}: expected a number of seconds >= 0")
    return value


@dataclass
class _Running:
    """A container this executor has created and not yet removed."""

    id: str
    labels: dict[str, str] = field(default_factory=dict)  # the request's, for cancel(match)
    timed_out: bool = False
    canceled: bool = False
    finished: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class DockerExecutor:
    """Runs ExecRequests in containers; thread-safe; one instance per workflow run.

    client       a docker.DockerClient, or None to create one from the environment on first use
    stop_grace   seconds between SIGTERM and SIGKILL when a task times out or is canceled
    engine_wait  seconds to wait for an engine that stopped answering mid-task; None:
                 engine_wait_seconds() ($DOCKERFLOW_ENGINE_WAIT, default 60)
    locked       image name -> id from dockerflow.lock: a locked name runs in its id
    strict_lock  `run --locked`: refuse images that are not locked or whose id is gone
    on_image     set by the runner: called with (name, id) of each image a task runs in

    The `docker:` option arrives parsed (ExecRequest.docker is DockerOptions): the operator
    side parses it, with the host environment for `-e NAME`.
    """

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        stop_grace: float = 5.0,
        max_pool_size: int = 64,
        engine_wait: float | None = None,
        locked: Mapping[str, str] | None = None,
        strict_lock: bool = False,
    ) -> None:
        self._client = client
        self._locked = dict(locked or {})
        self._strict_lock = strict_lock
        self.on_image: Callable[[str, str], None] | None = None
        self._owns_client = client is None
        self._stop_grace = stop_grace
        self._engine_wait = engine_wait_seconds() if engine_wait is None else max(0.0, engine_wait)
        self._max_pool_size = max_pool_size
        self._lock = threading.Lock()
        self._resolver: ImageResolver | None = None
        self._running: dict[str, _Running] = {}
        self._canceled = threading.Event()
        self._current = threading.local()  # on_image of the request this thread runs
        self._owner: dict[str, str] | None = None
        self._warm: WarmPool | None = None  # docker: {reuse: true} (docker_warm), made on first use

    # ------------------------------------------------------------ connection

    @property
    def base_url(self) -> str:
        return engine_address()

    @property
    def client(self) -> docker.DockerClient:
        """The Docker client, connected on first use."""
        with self._lock:
            if self._client is None:
                with docker_errors(self.base_url, doing="connecting"):
                    self._client = docker.from_env(max_pool_size=self._max_pool_size)
            return self._client

    @property
    def resolver(self) -> ImageResolver:
        client = self.client
        with self._lock:
            if self._resolver is None:
                self._owner = owner_labels()
                self._resolver = ImageResolver(client.api, self._owner, locked=self._locked,
                                               strict=self._strict_lock, on_image=self._image_used)
            return self._resolver

    def _image_used(self, name: str, image_id: str) -> None:
        for callback in (self.on_image, getattr(self._current, "on_image", None)):
            if callback is not None:
                callback(name, image_id)

    # ------------------------------------------------------------ run

    def run(self, request: ExecRequest) -> ExecResult:
        """Run `request.argv` in a container to completion; see the module docstring."""
        options = request.docker
        if options is None:
            raise ExecutorError(f"{request.task_name}: the Docker executor needs the task's docker: options")
        if self._canceled.is_set() or request.canceled.is_set():
            return ExecResult(-1, ExitReason.CANCELED, "canceled before the container started")
        resolver = self.resolver  # the first contact: an engine that does not answer fails the task
        api = self.client.api
        name = _container_name(request.task_name)
        self._current.on_image = request.on_image  # the resolver reports this request's images
        try:
            return self._run(api, resolver, request, options, name)
        except EngineLost:
            raise
        except EngineUnavailable as exc:
            return self._engine_lost(api, request, name, exc)

    def _run(
        self, api: docker.APIClient, resolver: ImageResolver, request: ExecRequest, options: DockerOptions, name: str
    ) -> ExecResult:
        image = resolver.resolve(options, request.on_output)
        if request.needs_python and not resolver.has_python(image):
            raise ExecutorError(
                f"image {options.image} has no python3; py> tasks need python3 in the image: use "
                "dockerflow/python:latest (dockerflow images build) or add it with docker: build: "
                "[apt-get update && apt-get install -y python3]"
            )
        if options.reuse:
            return self._warm_pool().run(api, request, options, image)
        timeout = effective_timeout(options.timeout, request.timeout)
        state = self._create(api, request, options, image, name)
        timer: threading.Timer | None = None
        lost = False
        try:
            with docker_errors(api.base_url, image=options.image, doing=f"running {request.task_name}"):
                if not self._start(api, state, request):
                    return ExecResult(-1, ExitReason.CANCELED, "canceled before the container started")
                if timeout is not None:
                    timer = threading.Timer(timeout, self._expire, args=(state,))
                    timer.daemon = True
                    timer.start()
                self._pump(api, state, request)
                # Not retried on a broken connection: the engine went away (EngineLost), and a
                # restarted engine would answer with the status of the container it stopped.
                status = retrying(lambda: api.wait(state.id, timeout=None), when=engine_answered)
                with state.lock:
                    state.finished = True
            return self._result(api, state, int(status.get("StatusCode", -1)), options, timeout)
        except EngineUnavailable:
            lost = True  # run() waits for the engine and removes the container then
            raise
        finally:
            if timer is not None:
                timer.cancel()
            if lost:
                with self._lock:
                    self._running.pop(state.id, None)
            else:
                self._remove(api, state, request)

    def _warm_pool(self) -> WarmPool:
        with self._lock:
            if self._warm is None:
                self._warm = WarmPool(self._container_args, stop_grace=self._stop_grace)
            return self._warm

    def _engine_lost(
        self, api: docker.APIClient, request: ExecRequest, name: str, cause: EngineUnavailable
    ) -> ExecResult:
        """The engine stopped answering mid-task: say so in the task's output, wait for it (at
        most `engine_wait` seconds), remove what is left of the container `name`, and raise
        EngineLost (recovered or not) for the runner to decide. CANCELED when the run is
        stopped meanwhile."""
        where = engine_address(api.base_url)
        say = request.on_output
        say(f"[dockerflow] the Docker engine stopped answering; waiting up to {self._engine_wait:g}s for it")
        started = time.monotonic()
        deadline = started + self._engine_wait
        while True:
            if self._canceled.is_set() or request.canceled.is_set():
                return ExecResult(-1, ExitReason.CANCELED, "canceled while waiting for the Docker engine")
            if _answers(api, timeout=max(0.5, min(5.0, deadline - time.monotonic()))):
                break
            if time.monotonic() >= deadline:
                raise EngineLost(
                    f"{engine_down_message(where)} (it stopped answering while {request.task_name} ran and "
                    f"did not answer again within {self._engine_wait:g}s; the next run removes its container {name})",
                    recovered=False, container=name, waited=time.monotonic() - started,
                ) from cause
            request.canceled.wait(0.25)
        waited = time.monotonic() - started
        try:
            retrying(lambda: api.remove_container(name, force=True))
            removed = f"removed the task's container {name}"
        except docker.errors.NotFound:
            removed = "the task's container was already gone"
        except Exception as exc:  # noqa: BLE001 - the re-run does not need it gone; the reaper will
            removed = f"warning: {translate(exc, base_url=api.base_url, doing=f'removing container {name}')}"
        say(f"[dockerflow] the Docker engine answers again after {waited:.0f}s; {removed}")
        raise EngineLost(
            f"the Docker engine at {where} stopped answering while {request.task_name} ran"
            f" (it answered again after {waited:.0f}s)",
            recovered=True, container=name, waited=waited,
        ) from cause

    def _pump(self, api: docker.APIClient, state: _Running, request: ExecRequest) -> None:
        """Stream the container's log to on_output until it stops."""
        try:
            stream = retrying(lambda: follow(api, state.id))
        except docker.errors.APIError as exc:
            # Stopped and being removed under us (cancel, timeout): there is nothing to follow.
            if exc.status_code in (404, 409) and (state.canceled or state.timed_out):
                return
            if exc.status_code in (404, 409):
                raise ExecutorError(
                    f"the container of {request.task_name} ({state.id[:12]}) was removed while it ran, "
                    "by something other than dockerflow (docker rm -f? a cleanup script?)"
                ) from exc
            raise
        stream.pump(request.on_output)

    def _start(self, api: docker.APIClient, state: _Running, request: ExecRequest) -> bool:
        """Start the container unless a cancel came first; False when it was not started."""
        if self._canceled.is_set() or request.canceled.is_set():
            return False
        retrying(lambda: api.start(state.id))
        if self._canceled.is_set() or request.canceled.is_set():  # canceled meanwhile: stop it ourselves
            self._stop(state, canceled=True)
        return True

    def _create(
        self, api: docker.APIClient, request: ExecRequest, options: DockerOptions, image: ResolvedImage, name: str
    ) -> _Running:
        kwargs = self._container_args(api, request, options, image)

        def create() -> str:
            try:
                return str(api.create_container(image.id, name=name, **kwargs)["Id"])
            except docker.errors.APIError as exc:  # a retried create that had in fact succeeded
                if exc.status_code == 409 and "already in use" in str(exc.explanation):
                    return str(api.inspect_container(name)["Id"])
                raise

        with docker_errors(api.base_url, image=options.image, doing=f"creating the container of {request.task_name}"):
            state = _Running(retrying(create), dict(request.labels))
        with self._lock:
            self._running[state.id] = state
        return state

    def _container_args(
        self, api: docker.APIClient, request: ExecRequest, options: DockerOptions, image: ResolvedImage
    ) -> dict[str, Any]:
        run = options.run
        user = options.user or f"{os.getuid()}:{os.getgid()}"
        env = {**run.env, **request.env}
        if user.split(":")[0] not in ("0", "root") and "HOME" not in env:
            home = image.env_value("HOME") or ""
            env["HOME"] = home if home == "/tmp" or home.startswith("/tmp/") else "/tmp"
        project, mode = str(request.project_dir), "rw,Z" if options.selinux else "rw"
        binds = [f"{project}:{project}:{mode}"]
        if request.taskside is not None:
            binds.append(f"{request.taskside}:{request.taskside}:{'ro,z' if options.selinux else 'ro'}")
        binds += run.binds
        gpus = None
        if run.gpus is not None:
            gpus = [docker.types.DeviceRequest(
                count=run.gpus.count, device_ids=list(run.gpus.device_ids) or None, capabilities=[["gpu"]]
            )]
        host_config = api.create_host_config(
            binds=binds,
            mem_limit=run.mem_limit,
            memswap_limit=run.memswap_limit if run.memswap_limit is not None else run.mem_limit,
            nano_cpus=run.nano_cpus,
            ulimits=[docker.types.Ulimit(name=u.name, soft=u.soft, hard=u.hard) for u in run.ulimits] or None,
            network_mode=run.network,
            shm_size=run.shm_size,
            device_requests=gpus,
            extra_hosts=run.extra_hosts or None,
            privileged=run.privileged,
            cap_add=run.cap_add or None,
            cap_drop=run.cap_drop or None,
            security_opt=run.security_opt or None,
            dns=run.dns or None,
            tmpfs=run.tmpfs or None,
            pids_limit=run.pids_limit,
            devices=run.devices or None,
            read_only=run.read_only or None,
            init=options.init or None,
            ipc_mode=run.ipc,
        )
        labels = {**{k: v for k, v in run.labels.items()}}
        labels.update({f"dockerflow.{k}": str(v) for k, v in request.labels.items()})
        labels.update(self._owner or owner_labels())
        labels[TASK] = request.task_name
        return {
            "command": list(request.argv),
            "user": user,
            "environment": env,
            "working_dir": run.workdir or str(request.cwd),
            "labels": labels,
            "host_config": host_config,
            "hostname": run.hostname,
            "detach": True,
        }

    def _result(
        self, api: docker.APIClient, state: _Running, exit_code: int, options: DockerOptions, timeout: float | None
    ) -> ExecResult:
        if state.timed_out:
            return ExecResult(exit_code, ExitReason.TIMEOUT, f"timed out after {timeout:g}s")
        if state.canceled:
            return ExecResult(exit_code, ExitReason.CANCELED, "canceled")
        if exit_code == 0:
            return ExecResult(0)
        with docker_errors(api.base_url, doing="inspecting the exited container"):
            oom = bool(retrying(lambda: api.inspect_container(state.id))["State"].get("OOMKilled"))
        if oom:
            limit = options.run.memory_text or "none set"
            return ExecResult(exit_code, ExitReason.OOM, f"container killed: out of memory (memory limit {limit})")
        if 128 < exit_code <= 128 + 64:
            try:
                name = signal.Signals(exit_code - 128).name
            except ValueError:
                name = f"signal {exit_code - 128}"
            return ExecResult(exit_code, ExitReason.SIGNAL, f"killed by {name} (exit code {exit_code})")
        return ExecResult(exit_code)

    # ------------------------------------------------------------ stop / remove

    def _expire(self, state: _Running) -> None:
        """Timer callback: the task ran out of time (unless it has just finished)."""
        with state.lock:
            if state.finished:
                return
            state.timed_out = True
        self._stop(state)

    def _stop(self, state: _Running, *, canceled: bool = False) -> None:
        """SIGTERM, then SIGKILL after the grace period; a vanished container is fine."""
        if canceled:
            state.canceled = True
        api = self.client.api
        try:
            retrying(lambda: api.stop(state.id, timeout=max(int(self._stop_grace), 0)))
        except docker.errors.NotFound:
            pass
        except Exception:  # noqa: BLE001 - try harder: kill (it may be gone or dead already)
            with contextlib.suppress(Exception):
                api.kill(state.id)

    def _remove(self, api: docker.APIClient, state: _Running, request: ExecRequest) -> None:
        """Remove the container (force). A failure is reported in the task log, not raised:
        the task's own result matters more, and the reaper removes leftovers later."""
        with self._lock:
            self._running.pop(state.id, None)
        try:
            retrying(lambda: api.remove_container(state.id, force=True))
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # noqa: BLE001
            error = translate(exc, base_url=api.base_url, doing=f"removing container {state.id[:12]}")
            request.on_output(f"[dockerflow] warning: {error}")

    def cancel(self, match: Mapping[str, str]) -> None:
        """Stop the containers of the runs whose labels include `match` (one attempt's);
        other runs go on. Their run() returns CANCELED."""
        with self._lock:
            running = [s for s in self._running.values()
                       if all(s.labels.get(k) == v for k, v in match.items())]
        threads = [
            threading.Thread(target=self._stop, args=(s,), kwargs={"canceled": True}, daemon=True) for s in running
        ]
        if self._warm is not None:
            threads.append(threading.Thread(target=self._warm.cancel, args=(match,), daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self._stop_grace + 30)

    def cancel_all(self) -> None:
        """Stop every container of this executor (grace, then kill); blocked runs return CANCELED.

        Safe to call from another thread (a signal handler's helper). Runs that start
        afterwards return CANCELED without starting a container.
        """
        self._canceled.set()
        with self._lock:
            running = list(self._running.values())
        threads = [
            threading.Thread(target=self._stop, args=(s,), kwargs={"canceled": True}, daemon=True) for s in running
        ]
        if self._warm is not None:
            threads.append(threading.Thread(target=self._warm.cancel_all, daemon=True))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self._stop_grace + 30)

    def image_id(self, options: DockerOptions, on_output: Callable[[str], None]) -> str:
        """The id of the image a task with `options` runs in (pulled or built as run() would);
        the task cache (runtime/cache.py) keys on it."""
        return self.resolver.resolve(options, on_output).id

    def reap_orphans(self) -> list[str]:
        """Remove leftover containers of dead dockerflow processes on this host."""
        return reap_orphans(self.client)

    def close(self) -> None:
        """Remove the warm containers; close the client's connections (when this executor
        created the client)."""
        with self._lock:
            warm, self._warm = self._warm, None
        if warm is not None:
            warm.close()
        with self._lock:
            client, self._resolver = self._client, None
            if self._owns_client:
                self._client = None
        if client is not None and self._owns_client:
            client.close()


def _answers(api: docker.APIClient, timeout: float) -> bool:
    """Whether the engine answers GET /_ping within `timeout` seconds (APIClient.ping has no
    timeout: a starting engine may accept a connection long before it answers)."""
    try:
        return bool(api._result(api._get(api._url("/_ping"), timeout=timeout)) == "OK")
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False


_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]+")


def _container_name(task_name: str) -> str:
    """dockerflow-<task slug>-<random>: readable in `docker ps`, unique, valid."""
    slug = _NAME_BAD.sub("_", task_name).strip("_.-")[:60] or "task"
    return f"dockerflow-{slug}-{uuid.uuid4().hex[:10]}"
