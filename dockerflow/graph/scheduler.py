"""The pure scheduler: Digdag's task state machine over one attempt's tree (no I/O).

Call tree of a run (the runner drives it):

    start()                               root -> planned, first children become ready
    loop:
      pop_ready() -> [task]               the runner runs (or replays) each operator task
      mark_running(task)
      succeed(task, result) | fail(task, error)
          -> _finish(task)                done: wake downstream siblings, settle the parent
              -> _settle(parent)          no child progressing: success / retry / ^error / error
      wake(now)                           retry waits that are due become ready again
    done, success

Groups never run: they are planned, their children are activated in dependency order, and a
group settles once no child is progressing.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from dockerflow.graph.spec import RetrySpec, TaskSpec, tree_size
from dockerflow.graph.states import TaskState as S
from dockerflow.graph.task import Task, TaskResult


def count_specs(spec: TaskSpec) -> int:
    return tree_size(spec)


def sibling_upstreams(specs: tuple[TaskSpec, ...], parallel: bool,
                      limit: int | None) -> list[list[int]]:
    """For each child of a group, the indexes of the siblings it waits for: the previous one
    (and the `_background` ones since it) in a sequence; the previous chunk with
    `_parallel: {limit: N}`; the `_after` ones in a parallel group."""
    ups: list[list[int]] = [[] for _ in specs]
    if parallel:
        if limit:
            for i in range(limit, len(specs)):
                chunk_start = (i // limit - 1) * limit
                ups[i].extend(range(chunk_start, chunk_start + limit))
        by_name = {s.name: i for i, s in enumerate(specs)}
        for i, s in enumerate(specs):
            for dep in s.after:
                j = by_name.get(dep)
                if j is not None and j not in ups[i]:
                    ups[i].append(j)
        return ups
    prev: int | None = None
    background: list[int] = []
    for i, s in enumerate(specs):
        if s.background:
            background.append(i)
            continue
        if prev is not None:
            ups[i].append(prev)
        ups[i].extend(background)
        prev, background = i, []
    return ups


class Scheduler:
    def __init__(self, root: TaskSpec, max_tasks: int = 100_000,
                 clock: Callable[[], float] = time.monotonic,
                 failure_alert: TaskSpec | None = None) -> None:
        """`failure_alert`: a task added under the root when the root fails (Digdag's
        `^failure-alert`, next to its `^error`)."""
        self.clock = clock
        self.failure_alert = failure_alert
        self.max_tasks = max_tasks
        self.next_id = 0
        self.live = 0  # tasks that exist now
        self.ready: deque[Task] = deque()
        self.waiting: list[tuple[float, int, Task]] = []
        self.root = self._new(root, None)
        self.live = count_specs(root)
        if self.live > max_tasks:
            raise TooManyTasks(max_tasks, self.live)

    # -- construction ------------------------------------------------------------------------
    def _new(self, spec: TaskSpec, parent: Task | None, name: str | None = None) -> Task:
        self.next_id += 1
        return Task(self.next_id, spec, parent, name)

    def _add_children(self, parent: Task, specs: tuple[TaskSpec, ...], parallel: bool,
                      limit: int | None) -> list[Task]:
        kids = [self._new(s, parent) for s in specs]
        for k, ups in zip(kids, sibling_upstreams(specs, parallel, limit)):
            k.upstreams.extend(kids[i] for i in ups)
        for k in kids:
            for up in k.upstreams:
                up.downstreams.append(k)
        parent.children.extend(kids)
        return kids

    def _add_generated(self, parent: Task, spec: TaskSpec, name: str,
                       after: Task | None = None) -> Task:
        task = self._new(spec, parent, name)
        if after is not None:
            task.upstreams.append(after)
            after.downstreams.append(task)
        parent.children.append(task)
        return task

    # -- driving -----------------------------------------------------------------------------
    def start(self) -> None:
        self._activate(self.root)

    @property
    def done(self) -> bool:
        return self.root.state.done

    @property
    def success(self) -> bool:
        return self.root.state is S.SUCCESS

    def pop_ready(self) -> list[Task]:
        out = list(self.ready)
        self.ready.clear()
        return out

    def mark_running(self, task: Task) -> None:
        task.set_state(S.RUNNING)

    def set_retry(self, task: Task, retry: RetrySpec) -> None:
        """The task's `_retry`, known once its `${...}` was evaluated."""
        task.retry = retry

    def next_wakeup(self) -> float | None:
        """Seconds until the next retry is due (None: nothing waits)."""
        if not self.waiting:
            return None
        return max(0.0, self.waiting[0][0] - self.clock())

    def wake(self) -> None:
        now = self.clock()
        while self.waiting and self.waiting[0][0] <= now:
            _, _, task = heapq.heappop(self.waiting)
            if task.state is S.RETRY_WAITING:
                task.set_state(S.READY)
                self.ready.append(task)
            elif task.state is S.GROUP_RETRY_WAITING:
                self._restart_group(task)

    def succeed(self, task: Task, result: TaskResult) -> None:
        """An operator task (RUNNING or READY when replayed) finished well."""
        task.store = result.store
        task.export = result.export
        task.reset_store = result.reset_store
        if result.store:
            self._note_store(task)
        sub = result.sub_spec
        check = task.spec.check
        added = (count_specs(sub) if sub else 0) + (count_specs(check) if check else 0)
        if added and self.live + added > self.max_tasks:
            self.fail(task, {"message": str(TooManyTasks(self.max_tasks, self.live + added))},
                      retryable=False)
            return
        self.live += added
        if sub is None and check is None:
            task.set_state(S.SUCCESS)
            self._finish(task)
            return
        task.set_state(S.PLANNED)
        sub_task = self._add_generated(task, sub, "^sub") if sub is not None else None
        if check is not None:
            self._add_generated(task, check, "^check", after=sub_task)
        self._start_children(task, task.children)

    def fail(self, task: Task, error: dict[str, Any], retryable: bool = True) -> None:
        """An operator task failed; leaf retry, `_error`, or error."""
        error.setdefault("task_name", task.full_name)
        task.error = error
        retry = task.retry
        if retryable and retry is not None and task.retry_count < retry.limit:
            task.set_state(S.RETRY_WAITING)
            self._wait(task, retry)
            return
        self._fail_terminal(task, group=False)

    def add_to_root(self, specs: list[tuple[TaskSpec, str]]) -> list[Task]:
        """Generated tasks (spec, name) under the running root, with no dependencies, started
        at once (an SLA's `^sla^alert`, `^sla^fail`, `^sla`); none when the root is done."""
        root = self.root
        if root.state is not S.PLANNED:
            return []
        added = []
        for spec, name in specs:
            self.live += count_specs(spec)
            added.append(self._add_generated(root, spec, name))
        root.active += 1  # held open while they start, as _start_children does
        for task in added:
            self._activate(task)
        root.active -= 1
        if root.active == 0 and root.state is S.PLANNED:
            self._settle(root)
        return added

    def cancel(self) -> None:
        """Cancel every task that is not done (Ctrl-C, kill)."""
        stack = [self.root]
        while stack:
            t = stack.pop()
            if not t.state.done:
                t.set_state(S.CANCELED)
            stack.extend(t.children)
        self.ready.clear()
        self.waiting.clear()

    # -- internals ---------------------------------------------------------------------------
    def _wait(self, task: Task, retry: RetrySpec) -> None:
        task.retry_at = self.clock() + retry.wait_before(task.retry_count)
        task.retry_count += 1
        heapq.heappush(self.waiting, (task.retry_at, task.id, task))

    def _activate(self, task: Task) -> None:
        """Parent planned and every upstream succeeded: start the task."""
        parent = task.parent
        if parent is not None:
            parent.active += 1
        if not task.is_group:
            task.set_state(S.READY)
            self.ready.append(task)
            return
        task.set_state(S.PLANNED)
        self._plan_group(task)

    def _plan_group(self, task: Task) -> None:
        spec = task.spec
        self._start_children(task, self._add_children(task, spec.children, spec.parallel,
                                                      spec.limit))

    def _start_children(self, task: Task, kids: list[Task]) -> None:
        """Activate the children without upstreams. The parent is held open meanwhile, so a
        child that finishes at once (an empty group) can't settle it before its siblings
        start; with nothing started, it settles now."""
        task.active += 1
        for k in kids:
            if not k.upstreams:
                self._activate(k)
        task.active -= 1
        if task.active == 0 and task.state is S.PLANNED:
            self._settle(task)

    def _finish(self, task: Task) -> None:
        """`task` reached a done state: wake its downstream siblings, maybe settle the parent."""
        for down in task.downstreams:
            if down.state is S.BLOCKED and all(u.state is S.SUCCESS for u in down.upstreams):
                self._activate(down)
        parent = task.parent
        if parent is not None:
            parent.active -= 1
            if parent.active == 0 and parent.state is S.PLANNED:
                self._settle(parent)

    def _settle(self, task: Task) -> None:
        """No child of the planned `task` is progressing: decide its outcome."""
        if task.delayed_error:
            task.set_state(S.ERROR)
        elif task.delayed_group_error:
            task.set_state(S.GROUP_ERROR)
        else:
            failed = [c for c in task.children if c.state.failed]
            if not failed:
                task.set_state(S.SUCCESS)
            else:
                merged: dict[str, Any] = {}
                for c in failed:
                    merged.update(c.error or {})
                task.error = merged
                retry = task.retry
                if retry is not None and task.retry_count < retry.limit:
                    task.set_state(S.GROUP_RETRY_WAITING)
                    self._wait(task, retry)
                    return
                self._fail_terminal(task, group=True)
                if task.state is S.PLANNED:
                    return
        self._finish(task)

    def _fail_terminal(self, task: Task, group: bool) -> None:
        """No retry left: run `_error` if there is one (and at the root the failure alert),
        else fail."""
        handler = task.spec.error
        if handler is not None and self.live + count_specs(handler) > self.max_tasks:
            handler = None
        alert = self.failure_alert if task.parent is None else None
        if handler is not None or alert is not None:
            if task.state is not S.PLANNED:
                task.set_state(S.PLANNED)
            if group:
                task.delayed_group_error = True
            else:
                task.delayed_error = True
            added = []
            for spec, name in ((handler, "^error"), (alert, "^failure-alert")):
                if spec is not None:
                    self.live += count_specs(spec)
                    added.append(self._add_generated(task, spec, name))
            task.active += 1
            for generated in added:
                self._activate(generated)
            task.active -= 1
            if task.active == 0 and task.state is S.PLANNED:
                self._settle(task)
            return
        task.set_state(S.GROUP_ERROR if group else S.ERROR)
        if not group:
            self._finish(task)

    def _restart_group(self, task: Task) -> None:
        """Group retry: drop the subtree and run it again from the start."""
        self.live -= sum(_subtree_size(c) for c in task.children)
        task.children = []
        task.active = 0
        task.store_children = 0
        task.error = None
        if task.is_group:
            self.live += sum(count_specs(c) for c in task.spec.children)
            task.set_state(S.PLANNED)
            self._plan_group(task)
        else:
            task.set_state(S.READY)
            self.ready.append(task)

    def _note_store(self, task: Task) -> None:
        node: Task | None = task
        while node is not None and not node.has_store:
            node.has_store = True
            if node.parent is not None:
                node.parent.store_children += 1
            node = node.parent


def _subtree_size(task: Task) -> int:
    return tree_size(task)


class TooManyTasks(Exception):
    def __init__(self, limit: int, wanted: int) -> None:
        super().__init__(f"Too many tasks. Limit: {limit}, this attempt would have {wanted};"
                         " raise it with --max-tasks")
