"""What the pages read besides the plain store calls: a workflow's source and picture (from its
revision's archive), its next runs, and the project's schedules and secret keys (read through
store methods another part of the server adds: a store without them shows empty sections)."""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dockerflow.archive import read_file, unpack_archive
from dockerflow.dig.schedule import first_schedule, next_schedule, parse_schedule
from dockerflow.errors import DigError, DockerflowError
from dockerflow.store.base import ScheduleRecord, Store, WorkflowRecord

log = logging.getLogger("dockerflow.server.ui")
_lock = threading.Lock()
_pictures: OrderedDict[int, tuple[str, str]] = OrderedDict()  # workflow id -> (svg, problem)
PICTURE_CACHE = 64


def workflow_source(store: Store, record: WorkflowRecord) -> str | None:
    """The `.dig` file of the definition's revision, or None when the archive lacks it."""
    archive = _archive(store, record)
    if archive is None:
        return None
    try:
        data = read_file(archive, f"{record.name}.dig")
    except DockerflowError:
        return None
    return data.decode("utf-8", errors="replace") if data is not None else None


def _archive(store: Store, record: WorkflowRecord) -> bytes | None:
    revisions = [r for r in store.revisions(record.project_id) if r.id == record.revision_id]
    return store.get_archive(revisions[0].archive_digest) if revisions else None


def workflow_picture(store: Store, record: WorkflowRecord) -> tuple[str, str]:
    """(inline SVG, "") of the workflow's task graph (graph/picture.py through Graphviz), or
    ("", why not). Cached per definition id (a definition never changes)."""
    with _lock:
        if record.id in _pictures:
            _pictures.move_to_end(record.id)
            return _pictures[record.id]
    found = _draw(store, record)
    with _lock:
        _pictures[record.id] = found
        while len(_pictures) > PICTURE_CACHE:
            _pictures.popitem(last=False)
    return found


def _draw(store: Store, record: WorkflowRecord) -> tuple[str, str]:
    archive = _archive(store, record)
    if archive is None:
        return "", "the archive of this revision is missing"
    try:
        import graphviz

        from dockerflow.dig.workflow import load_workflow
        from dockerflow.graph.picture import to_dot

        with tempfile.TemporaryDirectory(prefix="dockerflow-ui-") as tmp:
            project = Path(tmp) / "project"
            unpack_archive(archive, project)
            workflow = load_workflow(project / f"{record.name}.dig", project, warnings=[])
        svg = graphviz.Source(to_dot(workflow)).pipe(format="svg").decode("utf-8")
    except (DigError, DockerflowError) as e:
        return "", f"the workflow does not load: {e}"
    except Exception as e:  # Graphviz missing, too slow, or failing: the page still shows
        log.warning("drawing workflow %s failed: %r", record.id, e)
        return "", f"Graphviz could not draw it ({type(e).__name__}: {e})"
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    # scale to the column (the viewBox keeps the proportions)
    m = re.match(r'<svg width="([\d.]+)pt" height="[^"]*"', svg)
    if m:  # as wide as Graphviz drew it at most, narrower in a narrow window
        svg = (f'<svg role="img" aria-label="task graph" style="max-width:{float(m.group(1)) * 4 / 3:.0f}px"'
               + svg[m.end():])
    return svg, ""


def next_runs(config: dict[str, Any], zone: Any, count: int = 5,
              now: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """The next (session time, run time) pairs of a `schedule:` block, as the server's
    scheduler computes them (start, end and delay honoured); [] when there is none."""
    raw = config.get("schedule")
    if not isinstance(raw, dict):
        return []
    schedule = parse_schedule(raw, lambda m: DigError(m))  # checked when it was pushed
    found: list[tuple[datetime, datetime]] = []
    at = first_schedule(schedule, zone, now or datetime.now(timezone.utc))
    while len(found) < count and not at.finished:
        found.append((at.session_time, at.run_time.astimezone(zone)))
        at = next_schedule(schedule, zone, at.session_time)
    return found


def schedules_of(store: Store, project_id: int, workflow: str | None = None) -> list[ScheduleRecord]:
    return store.schedules(project_id=project_id, workflow=workflow, count=1000)


def secret_keys(store: Store, project_id: int) -> list[str]:
    """The project's secret keys (never values)."""
    return store.secret_keys(project_id)
