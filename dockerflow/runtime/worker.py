"""Running one task: TaskWorker.execute(request, cancel) -> outcome.

    execute(request, cancel)
      operator = OPERATORS[request.op]
      _context()            OperatorContext: executors, secrets, output, the attempt's labels
      task_cache()          `_cache`: a hit restores outputs and stored params instead
      operator.run(ctx)     re-run (at most ENGINE_RERUNS times) when the Docker engine
                            restarted under the task
      -> TaskOutcome        success | failed (TaskError: reason, exit code) | poll | require

The worker knows no store, queue or scheduler: a local run calls it from its thread pool, a
`dockerflow worker` from the requests it claims in a database. It owns its executors (the
host one, and a Docker one made on the first task that needs it) and stops one attempt's
runs on `cancel(attempt_id)`. Thread-safe: each thread gets its own expression evaluator.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from dockerflow.dig.workflow import call_loader
from dockerflow.dig.yaml_loader import load_file
from dockerflow.errors import CommandFailed, DockerflowError, EngineLost, EngineUnavailable, TaskFailure
from dockerflow.executors.base import Executor
from dockerflow.expr import Evaluator
from dockerflow.operators import OPERATORS, Operator, OperatorContext
from dockerflow.operators.base import Notifier, ParamStore, PollAgain, WaitForAttempt
from dockerflow.runtime.requests import (
    ErrorReason,
    OutcomeKind,
    RequireCall,
    TaskError,
    TaskOutcome,
    TaskRequest,
)
from dockerflow.secrets import SecretResolver, SecretSource, StaticSecrets

TASKSIDE = Path(__file__).resolve().parent.parent / "taskside"
ENGINE_RERUNS = 3  # how many times one task is run again after the Docker engine restarted
_REASONS = {"exited": ErrorReason.FAILED, "oom": ErrorReason.OOM, "signal": ErrorReason.SIGNAL,
            "timeout": ErrorReason.TIMEOUT, "canceled": ErrorReason.CANCELED}


class WorkerEvents(Protocol):
    """Where a worker reports: a local run prints (and logs to files), a `dockerflow worker`
    writes the lines to the store's task logs."""

    def task_started(self, request: TaskRequest) -> None: ...

    def task_cached(self, request: TaskRequest) -> None: ...

    def task_output(self, request: TaskRequest, line: str, log: bool) -> None: ...

    def task_ended(self, request: TaskRequest) -> None: ...  # its outcome is made

    def info(self, text: str) -> None: ...


class TaskWorker:
    """`host`: the host executor; `docker`: makes the Docker executor on first use (None:
    tasks with `docker:` fail); `secrets`: what `${secret:...}` resolves from; `param_store`:
    where param_set>/param_get> keep values (the run's store); `notifier`: where notify>
    (failure and SLA alerts) sends."""

    def __init__(self, events: WorkerEvents, host: Executor,
                 docker: Callable[[], Executor] | None = None,
                 secrets: Mapping[str, str] | SecretSource | None = None,
                 param_store: ParamStore | None = None, notifier: Notifier | None = None) -> None:
        self.events = events
        self.host = host
        self._docker_factory = docker
        self._docker: Executor | None = None
        self._docker_lock = threading.Lock()
        self.secrets: SecretSource = StaticSecrets(secrets) if secrets is None \
            or isinstance(secrets, Mapping) else secrets
        self.param_store = param_store
        self.notifier = notifier
        self._local = threading.local()
        self._paths: dict[str, Path] = {}

    # -- executors ---------------------------------------------------------------------------
    def docker(self) -> Executor:
        with self._docker_lock:
            if self._docker is None:
                if self._docker_factory is None:
                    raise TaskFailure("this task needs Docker (it has a docker: option) but no"
                                      " Docker executor is available")
                self._docker = self._docker_factory()
            return self._docker

    def cancel(self, attempt_id: int) -> None:
        """Stop the running commands of one attempt (its requests' `canceled` flag is the
        caller's to set first); from any thread."""
        match = {"attempt": str(attempt_id)}
        self.host.cancel(match)
        if self._docker is not None:
            self._docker.cancel(match)

    def cancel_all(self) -> None:
        self.host.cancel_all()
        if self._docker is not None:
            self._docker.cancel_all()

    def recover(self) -> None:
        """Remove containers left by dockerflow processes that died (a worker killed mid-task
        whose request this one took over)."""
        reap = getattr(self._docker, "reap_orphans", None)
        if reap is not None:
            reap()

    def close(self) -> None:
        """Release what the executors keep (warm containers, connections)."""
        close = getattr(self._docker, "close", None)
        if close is not None:
            close()

    @staticmethod
    def is_inline(op: str) -> bool:
        """Quick operators that never block (echo>, call>, if>...): run where the request is made."""
        operator = OPERATORS.get(op)
        return operator is not None and operator.inline

    # -- one task ----------------------------------------------------------------------------
    def _evaluator(self, timezone: str) -> Evaluator:
        cache = getattr(self._local, "evaluators", None)
        if cache is None:
            cache = self._local.evaluators = {}
        ev = cache.get(timezone)
        if ev is None:
            ev = cache[timezone] = Evaluator(timezone)
        return ev

    def execute(self, request: TaskRequest, cancel: threading.Event) -> TaskOutcome:
        try:
            return self._execute(request, cancel)
        finally:
            self.events.task_ended(request)

    def _execute(self, request: TaskRequest, cancel: threading.Event) -> TaskOutcome:
        if cancel.is_set():  # queued before the attempt was stopped: never start it
            return TaskOutcome.failed(request, TaskError("canceled before it started",
                                                         ErrorReason.CANCELED), started=False)
        operator = OPERATORS.get(request.op)
        if operator is None:
            return TaskOutcome.failed(request, TaskError(
                f"Unknown operator '{request.op}>' in task {request.task_name}"), retryable=False)
        images: dict[str, str] = {}
        ctx = self._context(request, operator, cancel, images)
        reruns = 0
        try:
            cached = None  # the task's cache entry, when it has `_cache`
            if request.params.get("_cache") not in (None, False):
                from dockerflow.runtime.cache import task_cache

                cached = task_cache(ctx, use=request.cache)
            result = cached.lookup() if cached is not None else None
            if result is not None:
                self.events.task_cached(request)
            elif not operator.inline and request.poll_state is None:
                self.events.task_started(request)
            while result is None:  # an engine restart under the task is not its failure
                try:
                    result = operator.run(ctx)
                    break
                except EngineLost as e:
                    if not e.recovered or cancel.is_set():
                        raise
                    if reruns >= ENGINE_RERUNS:
                        raise EngineUnavailable(f"{e}; the engine restarted {reruns + 1} times while"
                                                " this task ran: not running it again") from e
                    reruns += 1
                    ctx = self._context(request, operator, cancel, images)
                    ctx.output(f"[dockerflow] running {request.task_name} again because the"
                               f" Docker engine restarted (re-run {reruns} of at most"
                               f" {ENGINE_RERUNS})")
            if cancel.is_set():
                raise CommandFailed("canceled", reason="canceled", exit_code=None)
            if cached is not None and not cached.hit:
                cached.save(result)
            return TaskOutcome(request.attempt_id, request.task_id, request.task_name,
                               OutcomeKind.SUCCESS, result=result.to_record(), images=images,
                               engine_reruns=reruns, cached=cached is not None and cached.hit)
        except PollAgain as p:
            return TaskOutcome(request.attempt_id, request.task_id, request.task_name,
                               OutcomeKind.POLL, poll_at=p.at, poll_state=p.state)
        except WaitForAttempt as w:
            return TaskOutcome(request.attempt_id, request.task_id, request.task_name,
                               OutcomeKind.REQUIRE, require=RequireCall(
                                   w.workflow, w.session_time, w.params, w.rerun_on,
                                   w.ignore_failure))
        except Exception as e:  # noqa: BLE001 - every failure becomes the task's outcome
            return TaskOutcome.failed(request, self._error(e, ctx.secrets),
                                      retryable=operator.retryable, images=images,
                                      engine_reruns=reruns)

    def _error(self, e: Exception, secrets: SecretResolver) -> TaskError:
        """The task's error; the values of its secrets never reach a message."""
        message = secrets.mask(str(e))
        if isinstance(e, CommandFailed):
            return TaskError(message, _REASONS.get(e.reason, ErrorReason.FAILED), e.exit_code)
        if isinstance(e, EngineUnavailable):
            return TaskError(message, ErrorReason.ENGINE_UNAVAILABLE)
        if isinstance(e, DockerflowError):
            return TaskError(message)
        # a bug: keep the run alive, show where
        trace = traceback.format_exc()
        self.events.info(trace)
        return TaskError(f"unexpected error: {e!r}", ErrorReason.BUG, stacktrace=trace)

    def _context(self, request: TaskRequest, operator: Operator, cancel: threading.Event,
                 images: dict[str, str]) -> OperatorContext:
        params = request.params
        remap = params.get("_secrets")
        source = self.secrets
        secrets = SecretResolver(lambda: source.values(request.project_id),
                                 remap if isinstance(remap, Mapping) else None, source.how_to_set)
        log = not operator.inline
        events = self.events
        evaluator = self._evaluator(str(params.get("timezone") or "UTC"))

        def output(line: str) -> None:
            events.task_output(request, secrets.mask(line), log)

        def image_used(name: str, image_id: str) -> None:
            images[name] = image_id

        def load_call(target: str) -> Path:
            return call_loader(request.project_dir, str(params.get("_workdir") or ""))(target)

        return OperatorContext(
            full_name=request.task_name, op=request.op, config=request.config, params=params,
            project_dir=self._path(request.project_dir), io_root=self._path(request.io_root),
            output=output,
            host=self.host, docker=self.docker, canceled=cancel, taskside=TASKSIDE,
            max_tasks=request.max_tasks, load_config=load_file,
            render=lambda text: evaluator.render(text, params), secrets=secrets,
            labels=dict(request.labels), poll_state=request.poll_state, on_image=image_used,
            load_call=load_call, param_store=self.param_store, notifier=self.notifier)

    def _path(self, text: str) -> Path:
        """Path objects of the few folders requests name, made once (10,000 tasks, 2 each)."""
        path = self._paths.get(text)
        if path is None:
            path = self._paths[text] = Path(text)
        return path
