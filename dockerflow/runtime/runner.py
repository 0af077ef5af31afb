"""The run loop of one attempt: the scheduler decides, worker threads run operators.

    Runner.run()
      scheduler.start()
      loop until the root is done:
        _dispatch()        ready tasks: replay saved results, run quick operators inline
                           (_execute), or submit the others to the pool (_work -> _execute)
        _wait_events()     block on the event queue (worker outcomes, retry timers, signals)
          _handle()        -> scheduler.succeed() / fail(); results saved in batches
        scheduler.wake()   retries that are due
      summary

One thread (the caller's) owns the scheduler and the store; workers only evaluate `${...}`,
run the operator and put the outcome on the queue. Waiting is event-driven.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockerflow.dig.compile import Compiler, parse_retry_value
from dockerflow.dig.yaml_loader import load_file
from dockerflow.errors import DigError, DockerflowError, EngineLost, EngineUnavailable, TaskFailure
from dockerflow.executors.base import Executor
from dockerflow.executors.host import HostExecutor
from dockerflow.expr import Evaluator, has_template
from dockerflow.graph.scheduler import Scheduler
from dockerflow.graph.spec import RetrySpec, Workflow
from dockerflow.graph.states import TaskState
from dockerflow.graph.task import Task, TaskResult
from dockerflow.operators import OPERATOR_NAMES, OPERATORS, OperatorContext
from dockerflow.runtime.params import SessionInfo, visible_params
from dockerflow.runtime.reporter import Reporter
from dockerflow.runtime.selection import Mode, Selection
from dockerflow.secrets import SecretResolver
from dockerflow.store.local import LocalStore
from dockerflow.timeutil import iso_offset, parse_session_time, parse_zone

TASKSIDE = Path(__file__).resolve().parent.parent / "taskside"
ENGINE_RERUNS = 3  # how many times one task is run again after the Docker engine restarted
NOT_EVALUATED = frozenset({"_do", "_else_do"})


@dataclass
class RunOptions:
    selection: Selection = field(default_factory=Selection)
    dry_run: bool = False
    max_task_threads: int = 32
    max_tasks: int = 100_000
    progress_interval: float = 60.0  # how often long-running tasks are listed as still running
    cache: bool = True  # False (--no-cache): `_cache` never hits (entries are still refreshed)


@dataclass
class RunSummary:
    success: bool
    ran: int
    skipped: int
    failed: list[tuple[str, str]]
    seconds: float
    interrupted: int | None = None  # the signal number, when stopped by one
    engine_reruns: int = 0  # tasks run again because the Docker engine restarted under them
    engine_unavailable: list[str] = field(default_factory=list)  # failed: the engine did not answer
    images: dict[str, str] = field(default_factory=dict)  # image name -> id that tasks ran in


@dataclass
class _Outcome:
    task: Task
    result: TaskResult | None = None
    error: dict[str, Any] | None = None
    retryable: bool = True
    retry: RetrySpec | None = None
    started: bool = True  # False: canceled while queued, never ran


class Runner:
    def __init__(self, workflow: Workflow, project_dir: Path, session: SessionInfo,
                 attempt_params: Mapping[str, Any], store: LocalStore, session_id: int,
                 reporter: Reporter, options: RunOptions | None = None,
                 docker_factory: Callable[[], Executor] | None = None,
                 io_root: Path | None = None, requiring: tuple[str, ...] = (),
                 secrets: Mapping[str, str] | None = None) -> None:
        self.workflow = workflow
        self.project_dir = project_dir
        self.session = session
        self.attempt_params = dict(attempt_params)
        if workflow.workdir:  # a workflow in a subfolder runs there, like a call> of it
            self.attempt_params["_workdir"] = workflow.workdir
        self.store = store
        self.session_id = session_id
        self.reporter = reporter
        self.options = options or RunOptions()
        self.io_root = io_root or project_dir / ".dockerflow" / "io"
        self.sched = Scheduler(workflow.root, max_tasks=self.options.max_tasks)
        self.events: queue.Queue[_Outcome | None] = queue.Queue()
        self.canceled = threading.Event()
        self.host = HostExecutor()
        self._docker_factory = docker_factory
        self._docker: Executor | None = None
        self._docker_lock = threading.Lock()
        self._local = threading.local()
        self.requiring = requiring  # workflow@session of this run and the runs requiring it
        self.secrets = dict(secrets or {})
        self._children: list[Runner] = []  # require> runs under way
        self.saved: dict[str, dict[str, Any]] = {}
        self.running: dict[str, float] = {}  # tasks in worker threads -> when they started
        self._next_progress = 0.0
        self.ran = 0
        self.skipped = 0
        self.interrupted: int | None = None
        self._counts_lock = threading.Lock()  # workers update the engine counters
        self.engine_reruns = 0
        self.engine_unavailable: set[str] = set()
        self.images: dict[str, str] = {}  # name -> id, reported by the Docker executor
        self._images_saved: dict[str, str] = {}

    # -- executors ---------------------------------------------------------------------------
    def docker(self) -> Executor:
        with self._docker_lock:
            if self._docker is None:
                if self._docker_factory is None:
                    raise TaskFailure("this task needs Docker (it has a docker: option) but no"
                                      " Docker executor is available")
                self._docker = self._docker_factory()
                if hasattr(self._docker, "on_image"):  # the Docker executor reports its images
                    self._docker.on_image = self._image_used
            return self._docker

    def _image_used(self, name: str, image_id: str) -> None:
        with self._counts_lock:
            self.images[name] = image_id

    def _save_images(self) -> None:
        """Record new images with the attempt (on the loop's thread, which owns the store)."""
        with self._counts_lock:
            new = {k: v for k, v in self.images.items() if self._images_saved.get(k) != v}
        if new:
            self.store.record_images(self.session.attempt_id, new)
            self._images_saved.update(new)

    def interrupt(self, signum: int) -> None:
        """Stop: called from a signal handler (main thread) or another thread."""
        if self.interrupted is None:
            self.interrupted = signum
        self.canceled.set()
        for child in list(self._children):
            child.interrupt(signum)
        threading.Thread(target=self._cancel_executors, daemon=True).start()
        self.events.put(None)

    def _cancel_executors(self) -> None:
        self.host.cancel_all()
        if self._docker is not None:
            self._docker.cancel_all()

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> RunSummary:
        started = time.monotonic()
        # Tasks live until the run ends; frequent full collections over a growing heap make
        # big runs superlinear, so collect less often.
        gc.set_threshold(50_000, 20, 100)
        if self.options.selection.kind != "rerun":
            self.saved = self.store.results(self.session_id)
        else:
            self.store.clear_results(self.session_id)
        pool = ThreadPoolExecutor(max_workers=self.options.max_task_threads,
                                  thread_name_prefix="task")
        try:
            self.sched.start()
            while not self.sched.done and self.interrupted is None:
                self._dispatch(pool)
                if self.sched.done:
                    break
                self._wait_events()
                self.sched.wake()
            if self.interrupted is not None:
                self._drain(grace=15.0)
                self.sched.cancel()
        finally:
            pool.shutdown(wait=self.interrupted is None, cancel_futures=True)
            _close(self._docker)  # the end of the attempt: warm containers (docker: reuse) go
            self._save_images()
            self.store.flush()
            self.reporter.close()
        return RunSummary(success=self.sched.success, ran=self.ran, skipped=self.skipped,
                          failed=self._failures(), seconds=time.monotonic() - started,
                          interrupted=self.interrupted, engine_reruns=self.engine_reruns,
                          engine_unavailable=sorted(self.engine_unavailable),
                          images=dict(self.images))

    def _wait_events(self) -> None:
        timeout = self.sched.next_wakeup()
        if not self.running and timeout is None and not self.sched.ready:
            raise RuntimeError("scheduler stalled: nothing running, ready or waiting")
        if self.running:
            until_progress = max(0.0, self._next_progress - time.monotonic())
            timeout = until_progress if timeout is None else min(timeout, until_progress)
        try:
            item = self.events.get_nowait()
        except queue.Empty:
            # About to block: make finished work durable first, so that even a kill -9
            # during a long task keeps what succeeded before it.
            self._save_images()
            self.store.flush()
            try:
                item = self.events.get(timeout=timeout)
            except queue.Empty:
                self._progress()
                return
        while item is not None:
            self.running.pop(item.task.full_name, None)
            self._handle(item)
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                break
        self._progress()

    def _progress(self) -> None:
        """Every `progress_interval`, name the tasks that have been running that long."""
        now = time.monotonic()
        if now < self._next_progress:
            return
        self._next_progress = now + self.options.progress_interval
        long = [(name, now - since) for name, since in self.running.items()
                if now - since >= self.options.progress_interval]
        if long:
            self.reporter.info("still running: " + ", ".join(
                f"{name} ({_duration(seconds)})" for name, seconds in sorted(long)))

    def _drain(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        while self.running and time.monotonic() < deadline:
            try:
                item = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is not None:
                self.running.pop(item.task.full_name, None)
                self.ran -= 0 if item.started else 1
                if item.result is not None and item.task.state is TaskState.RUNNING:
                    self._save(item.task, item.result)

    def _dispatch(self, pool: ThreadPoolExecutor) -> None:
        while self.sched.ready:
            for task in self.sched.pop_ready():
                mode = self.options.selection.mode(task)
                record = self.saved.get(task.full_name) if mode in (
                    Mode.RESUME, Mode.SKIP_OR_REPLAY) else None
                if record is not None or mode in (Mode.SKIP, Mode.SKIP_OR_REPLAY):
                    self._replay(task, record)
                    continue
                if self.options.dry_run:
                    self.reporter.task_skipped(task.full_name, "dry run")
                    self.skipped += 1
                    self.sched.succeed(task, TaskResult())
                    continue
                self.sched.mark_running(task)
                self.ran += 1
                raw = visible_params(task, self.attempt_params)
                error = task.parent.error if task.name == "^error" and task.parent else None
                operator = OPERATORS.get(str(task.spec.op))
                if operator is not None and operator.inline:
                    self._handle(self._execute(task, raw, error))
                else:
                    self.running[task.full_name] = time.monotonic()
                    pool.submit(self._work, task, raw, error)

    def _replay(self, task: Task, record: dict[str, Any] | None) -> None:
        self.skipped += 1
        if record is None:
            self.reporter.task_skipped(task.full_name, "outside the selected tasks")
            self.sched.succeed(task, TaskResult())
            return
        self.reporter.task_skipped(task.full_name, "succeeded before")
        result = TaskResult.from_record(record)
        try:
            if result.subtask_config is not None:
                result.sub_spec = self._compile_sub(task, result.subtask_config)
        except DigError as e:
            self.sched.fail(task, {"message": str(e)}, retryable=False)
            return
        self.sched.succeed(task, result)

    def _handle(self, out: _Outcome) -> None:
        task = out.task
        self.reporter.task_finished(task.full_name)
        if out.retry is not None:
            task.retry = out.retry
        if out.result is not None:
            self._save(task, out.result)
            self.sched.succeed(task, out.result)
            self.reporter.task_succeeded(task.full_name)
            return
        error = out.error or {"message": "failed"}
        self.sched.fail(task, error, retryable=out.retryable)
        message = str(error.get("message"))
        if task.state is TaskState.RETRY_WAITING and task.retry is not None:
            self.reporter.task_retrying(task.full_name, message, task.retry_count,
                                        task.retry.limit,
                                        max(0.0, task.retry_at - self.sched.clock()))
        else:
            self.reporter.task_failed(task.full_name, message)

    def _save(self, task: Task, result: TaskResult) -> None:
        self.store.save_result(self.session_id, task.full_name, result.to_record())

    # -- worker side -------------------------------------------------------------------------
    def _evaluator(self) -> Evaluator:
        ev = getattr(self._local, "evaluator", None)
        if ev is None:
            ev = Evaluator(self.workflow.timezone)
            self._local.evaluator = ev
        return ev

    def _work(self, task: Task, raw: dict[str, Any], error: dict[str, Any] | None) -> None:
        """In a worker thread: run the task and hand the outcome to the loop (always)."""
        out = _Outcome(task, error={"message": "the worker stopped unexpectedly"})
        try:
            out = self._execute(task, raw, error)
        finally:
            self.events.put(out)

    def _execute(self, task: Task, raw: dict[str, Any],
                 error: dict[str, Any] | None) -> _Outcome:
        out = _Outcome(task)
        ctx: OperatorContext | None = None
        if self.canceled.is_set():  # queued before Ctrl-C: never start it
            out.error = {"message": "canceled before it started"}
            out.started = False
            return out
        try:
            params, config = self._evaluate(task, raw, error)
            out.retry = self._retry_of(task, params)
            op_name = task.spec.op if task.spec.op in OPERATORS else config.get("_type")
            operator = OPERATORS.get(str(op_name))
            if operator is None:
                raise TaskFailure(f"Unknown operator '{op_name}>' in task {task.full_name}")
            out.retryable = operator.retryable
            ctx = self._context(task, str(op_name), params, config, log=not operator.inline)
            cached = None  # the task's cache entry, when it has `_cache`
            if params.get("_cache") not in (None, False):
                from dockerflow.runtime.cache import task_cache

                cached = task_cache(ctx, use=self.options.cache)
            result = cached.lookup() if cached is not None else None
            if result is not None:
                self.reporter.task_cached(task.full_name)
            elif not operator.inline:
                self.reporter.task_started(task.full_name)
            reruns = 0
            while result is None:  # an engine restart under the task is not its failure: run it again
                try:
                    result = operator.run(ctx)
                    break
                except EngineLost as e:
                    if not e.recovered or self.canceled.is_set():
                        raise
                    if reruns >= ENGINE_RERUNS:
                        raise EngineUnavailable(f"{e}; the engine restarted {reruns + 1} times while"
                                                " this task ran: not running it again") from e
                    reruns += 1
                    with self._counts_lock:
                        self.engine_reruns += 1
                    ctx = self._context(task, str(op_name), params, config, log=not operator.inline)
                    ctx.output(f"[dockerflow] running {task.full_name} again because the Docker"
                               f" engine restarted (re-run {reruns} of at most {ENGINE_RERUNS})")
            if self.canceled.is_set():
                raise TaskFailure("canceled")
            if result.subtask_config is not None:
                result.sub_spec = self._compile_sub(task, result.subtask_config)
            if cached is not None and not cached.hit:
                cached.save(result)
            out.result = result
        except EngineUnavailable as e:
            out.error = {"message": _masked(ctx, e)}
            with self._counts_lock:
                self.engine_unavailable.add(task.full_name)
            return out
        except DockerflowError as e:  # the values of the task's secrets never reach a message
            out.error = {"message": _masked(ctx, e)}
        except Exception as e:  # a bug: keep the run alive, show where
            out.error = {"message": f"unexpected error: {e!r}",
                         "stacktrace": traceback.format_exc()}
            self.reporter.info(traceback.format_exc())
        if self.engine_unavailable:
            with self._counts_lock:
                self.engine_unavailable.discard(task.full_name)  # a retry that got further
        return out

    def _evaluate(self, task: Task, raw: dict[str, Any],
                  error: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
        ev = self._evaluator()
        builtins = self.session.builtins(task.full_name)
        scope = dict(raw)
        scope.update(builtins)
        if error is not None:
            scope["error"] = error
        for key, value in raw.items():
            if key not in builtins and _has_template(value):
                scope[key] = ev.render_value(value, scope)
        config: dict[str, Any] = {}
        for key, value in task.spec.config.items():
            if key in NOT_EVALUATED:
                config[key] = value
            else:
                config[key] = ev.render_value(value, scope) if _has_template(value) else value
                scope[key] = config[key]
        return scope, config

    def _retry_of(self, task: Task, params: dict[str, Any]) -> RetrySpec | None:
        raw = task.spec.retry
        if not isinstance(raw, str):
            return None
        rendered = self._evaluator().render(raw, params)
        return parse_retry_value(rendered, lambda m: TaskFailure(f"{task.full_name}: {m}"))

    def _context(self, task: Task, op: str, params: dict[str, Any], config: dict[str, Any],
                 log: bool) -> OperatorContext:
        name = task.full_name
        remap = params.get("_secrets")
        secrets = SecretResolver(self.secrets, remap if isinstance(remap, Mapping) else None)
        return OperatorContext(
            full_name=name, op=op, config=config, params=params, project_dir=self.project_dir,
            io_root=self.io_root,
            output=lambda line: self.reporter.task_output(name, secrets.mask(line), log=log),
            host=self.host, docker=self.docker, canceled=self.canceled, taskside=TASKSIDE,
            max_tasks=self.options.max_tasks, load_config=load_file, require=self._require,
            render=lambda text: self._evaluator().render(text, params), secrets=secrets,
            labels={"run": f"{self.workflow.name}@{iso_offset(self.session.session_time)}",
                    "session": str(self.session_id), "attempt": str(self.session.attempt_id)})

    def _require(self, name: str, session_time: str | None, params: dict[str, Any],
                 rerun_on: str) -> tuple[bool, int, int]:
        """require> in local mode: run (or reuse) workflow `name` of this project for a
        session; returns (succeeded, session id, attempt id)."""
        from dockerflow.dig.workflow import load_workflow
        from dockerflow.runtime.local import start_attempt, state_dir

        path = self.project_dir / (name if name.endswith(".dig") else name + ".dig")
        if not path.is_file():
            raise TaskFailure(f"Dependent workflow does not exist: {name} (looked for {path})")
        workflow = load_workflow(path, self.project_dir)
        zone = parse_zone(workflow.timezone)
        when = parse_session_time(session_time, zone) if session_time \
            else self.session.session_time.astimezone(zone)
        key = f"{workflow.name}@{iso_offset(when)}"
        if key in self.requiring:
            raise TaskFailure("require> cycle: " + " -> ".join(self.requiring + (key,)))
        store = LocalStore(state_dir(self.project_dir))
        try:
            session_id, _ = store.open_session(workflow.name, iso_offset(when),
                                               new_uuid=str(uuid.uuid4()))
            last = store.last_attempt(session_id)
            if last is not None and not (rerun_on == "all"
                                         or (rerun_on == "failed" and last[1] != "success")):
                return last[1] == "success", session_id, last[0]
            options = RunOptions(selection=Selection("rerun" if rerun_on == "all" else "all"),
                                 max_task_threads=self.options.max_task_threads,
                                 max_tasks=self.options.max_tasks, cache=self.options.cache)
            attempt = start_attempt(workflow, self.project_dir, store, when, params,
                                    self.reporter, options, self._docker_factory,
                                    requiring=self.requiring, secrets=self.secrets)
            self._children.append(attempt.runner)
            try:
                summary = attempt.run()
            finally:
                self._children.remove(attempt.runner)
            return summary.success, session_id, attempt.attempt_id
        finally:
            store.close()

    def _compile_sub(self, task: Task, config: dict[str, Any]) -> Any:
        compiler = Compiler(OPERATOR_NAMES, context=task.full_name)
        return compiler.compile_task("^sub", config)

    # -- results -----------------------------------------------------------------------------
    def _failures(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        stack = [self.sched.root]
        while stack:
            t = stack.pop()
            if not t.is_group and t.state is TaskState.ERROR and t.error \
                    and not any(c.state.failed for c in t.children if c.name != "^error"):
                out.append((t.full_name, str(t.error.get("message"))))
            stack.extend(reversed(t.children))
        return out


def _close(executor: Executor | None) -> None:
    """Release what an executor keeps for the attempt (DockerExecutor.close), when it can."""
    close = getattr(executor, "close", None)
    if close is not None:
        close()


def _masked(ctx: OperatorContext | None, error: Exception) -> str:
    return str(error) if ctx is None else ctx.secrets.mask(str(error))


def _has_template(value: Any) -> bool:
    """Whether evaluating `value` (a config value, maybe nested) could change it."""
    if isinstance(value, str):
        return has_template(value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
