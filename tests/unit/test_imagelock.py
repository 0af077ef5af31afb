"""The image lock without Docker: which images a project uses, the file format, the check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockerflow.errors import DigError
from dockerflow.executors.docker_options import BuildSettings, PullPolicy
from dockerflow.imagelock import (
    ImageLock,
    ImageUse,
    LockedBuild,
    LockedImage,
    build_hash,
    check_locked,
    images_line,
    read_lock,
    scan_project,
    scan_workflow,
    write_lock,
)


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def _uses(scan: object) -> list[tuple[str, tuple[str, ...]]]:
    return [(u.image, u.build) for u in scan.uses]  # type: ignore[attr-defined]


def test_exports_merge_down_and_a_task_key_replaces(tmp_path: Path) -> None:
    project = _project(tmp_path, {"wf.dig": """
_export:
  docker:
    image: base:1
    pull: never
+inherits:
  sh>: echo a
+group:
  _export:
    docker:
      memory: 1g
  +deeper:
    sh>: echo b
  +other:
    _export:
      docker:
        image: other:2
    py>: tasks.f
+own:
  docker:
    image: own:3
  sh>: echo c
+host:
  docker: {}
  sh>: echo d
+echo_only:
  echo>: not in a container
"""})
    scan = scan_project(project)
    assert _uses(scan) == [("base:1", ()), ("other:2", ()), ("own:3", ())]
    assert scan.images == {"base:1": PullPolicy.NEVER, "other:2": PullPolicy.NEVER, "own:3": PullPolicy.MISSING}
    assert scan.notes == []
    assert scan.uses[0].where == "wf.dig:7"


def test_operators_outside_containers_do_not_count(tmp_path: Path) -> None:
    project = _project(tmp_path, {"wf.dig": "_export:\n  docker:\n    image: unused:1\n+a:\n  echo>: hi\n"})
    assert scan_project(project).uses == []


def test_templates_are_skipped_with_a_note(tmp_path: Path) -> None:
    project = _project(tmp_path, {"wf.dig": """
+a:
  docker:
    image: ${img}
  sh>: echo a
+b:
  docker:
    image: literal:1
    build: ["apt-get install ${pkg}"]
  sh>: echo b
"""})
    scan = scan_project(project)
    assert _uses(scan) == [("literal:1", ())]
    assert len(scan.notes) == 2
    assert "wf.dig:3" in scan.notes[0] and "'${img}'" in scan.notes[0] and "not locked" in scan.notes[0]
    assert "build of literal:1" in scan.notes[1] and "its base is" in scan.notes[1]


def test_builds_lock_their_base_and_their_inputs(tmp_path: Path) -> None:
    project = _project(tmp_path, {"wf.dig": """
_export:
  docker:
    image: base:1
    build: [echo one]
+a:
  sh>: echo a
+b:
  _export:
    docker:
      build_options: [--build-arg, X=1]
  sh>: echo b
"""})
    scan = scan_project(project)
    assert [u.image for u in scan.uses] == ["base:1"] * 3
    plain, *builds = sorted(scan.uses, key=lambda u: u.build_hash)
    assert plain.build == () and {u.build for u in builds} == {("echo one",)}
    assert builds[0].build_hash != builds[1].build_hash  # build_options change the image
    assert build_hash(["echo one"], BuildSettings()) in {u.build_hash for u in builds}


def test_call_targets_inherit_and_every_file_is_read(tmp_path: Path) -> None:
    project = _project(tmp_path, {
        "main.dig": "_export:\n  docker:\n    image: caller:1\n+c:\n  call>: sub/called\n",
        "sub/called.dig": "+x:\n  sh>: echo x\n+y:\n  call>: leaf.dig\n",
        "sub/leaf.dig": "+z:\n  docker:\n    image: leaf:1\n  sh>: echo z\n",
        "other.dig": "+o:\n  docker:\n    image: other:1\n  sh>: echo o\n",
        "fragment.dig": "docker:\n  image: fragment:1\n",  # an !include fragment: no tasks
        ".dockerflow/hidden.dig": "+h:\n  docker:\n    image: hidden:1\n  sh>: echo h\n",
    })
    assert _uses(scan_project(project)) == [("caller:1", ()), ("leaf:1", ()), ("other:1", ())]
    assert _uses(scan_workflow(project / "main.dig", project)) == [("caller:1", ()), ("leaf:1", ())]


def test_loop_bodies_and_hooks_count(tmp_path: Path) -> None:
    project = _project(tmp_path, {"wf.dig": """
_export:
  docker:
    image: root:1
+loop:
  for_each>: {x: [1, 2]}
  _export:
    docker:
      image: body:1
  _do:
    sh>: echo ${x}
+guarded:
  sh>: echo g
  _error:
    docker:
      image: on-error:1
    sh>: echo failed
"""})
    assert _uses(scan_project(project)) == [("body:1", ()), ("on-error:1", ()), ("root:1", ())]


def test_a_bad_workflow_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, {"wf.dig": "+a:\n  docker:\n    imagee: x\n  sh>: echo\n"})
    with pytest.raises(DigError, match="unknown docker option 'imagee'"):
        scan_project(project)


LOCK = ImageLock(
    images={"b/img:2": LockedImage("b/img:2", "sha256:" + "b" * 64),
            "a:1": LockedImage("a:1", "sha256:" + "a" * 64, "a@sha256:" + "d" * 64)},
    builds={("a:1", "f" * 16): LockedBuild("a:1", "f" * 16, "sha256:" + "a" * 64)},
)


def test_the_file_is_sorted_documented_and_round_trips(tmp_path: Path) -> None:
    text = LOCK.render()
    assert text.startswith("# dockerflow.lock") and "`dockerflow lock`" in text
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == [
        f"image a:1 sha256:{'a' * 64} a@sha256:{'d' * 64}",
        f"image b/img:2 sha256:{'b' * 64}",
        f"build a:1 {'f' * 16} sha256:{'a' * 64}",
    ]
    assert ImageLock.parse(text) == LOCK
    assert write_lock(tmp_path, LOCK) is True
    before = (tmp_path / "dockerflow.lock").stat().st_mtime_ns
    assert write_lock(tmp_path, ImageLock.parse(text)) is False  # same bytes: untouched
    assert (tmp_path / "dockerflow.lock").stat().st_mtime_ns == before
    assert read_lock(tmp_path) == LOCK
    assert read_lock(tmp_path / "nowhere") is None


def test_a_bad_line_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(DigError, match=r"dockerflow.lock:3: expected 'image NAME ID"):
        ImageLock.parse("# c\n\nimage only-a-name\n")
    with pytest.raises(DigError, match="locked twice"):
        ImageLock.parse("image a x\nimage a y\n")


def test_check_names_the_image_and_both_ids() -> None:
    a, b = LOCK.images["a:1"].id, LOCK.images["b/img:2"].id
    uses = [ImageUse("a:1", where="wf.dig:3"), ImageUse("b/img:2")]
    assert check_locked(uses, LOCK, {"a:1": a, "b/img:2": b}) == []
    assert check_locked(uses, LOCK, {"a:1": "sha256:new", "b/img:2": None}) == [
        f"image a:1: locked {a}, here sha256:new; run `dockerflow lock` to accept it",
        f"image b/img:2: locked {b}, here missing; run `dockerflow lock` to accept it",
    ]
    # the tag is gone but the locked id is still there: the run uses it
    assert check_locked(uses[1:], LOCK, {"b/img:2": None}, present=[b]) == []
    assert "not in dockerflow.lock" in check_locked([ImageUse("new:1", where="x.dig:1")], LOCK, {})[0]
    build = ImageUse("a:1", ("echo",), "0" * 16, where="wf.dig:9")
    assert "docker: build: on a:1 (wf.dig:9): not in dockerflow.lock" in check_locked([build], LOCK, {"a:1": a})[0]


def test_images_line_is_short() -> None:
    assert images_line({"z:1": "sha256:" + "1" * 64, "dockerflow-build:" + "e" * 64: "sha256:" + "2" * 64}) == (
        f"Images: dockerflow-build:{'e' * 12} sha256:{'2' * 12}, z:1 sha256:{'1' * 12}")


class _ReportingEngine:
    """Runs requests on the host and reports an image to the request, as DockerExecutor does."""

    def __init__(self) -> None:
        from dockerflow.executors.host import HostExecutor

        self.host = HostExecutor()

    def run(self, request: Any) -> Any:
        request.on_image(request.docker.image, "sha256:" + "c" * 64)
        return self.host.run(request)

    def cancel(self, match: Any) -> None:
        self.host.cancel(match)

    def cancel_all(self) -> None:
        self.host.cancel_all()


def test_the_images_of_an_attempt_are_recorded_and_summed_up(tmp_path: Path) -> None:
    import io
    import sqlite3
    from datetime import datetime, timezone

    from dockerflow.dig.workflow import load_workflow
    from dockerflow.runtime.coordinator import RunOptions
    from dockerflow.runtime.local import start_attempt
    from dockerflow.runtime.reporter import Reporter
    from dockerflow.store import open_store

    state = tmp_path / ".dockerflow"
    state.mkdir()
    old = sqlite3.connect(state / "state.db")  # a state.db from before the image lock
    old.executescript("CREATE TABLE attempts (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL,"
                      " started_at REAL NOT NULL, finished_at REAL, status TEXT NOT NULL);")
    old.close()
    (tmp_path / "wf.dig").write_text("+a:\n  docker:\n    image: some/image:1\n  sh>: echo a\n+b:\n  sh>: echo b\n")
    store = open_store(str(state / "state.db"))
    out = io.StringIO()
    attempt = start_attempt(load_workflow(tmp_path / "wf.dig", tmp_path), tmp_path, store,
                            datetime(2024, 3, 5, tzinfo=timezone.utc), {}, Reporter(out=out, err=out),
                            RunOptions(), docker_factory=_ReportingEngine)
    try:
        summary = attempt.run()
        assert summary.success, out.getvalue()
        assert summary.images == {"some/image:1": "sha256:" + "c" * 64}
        assert store.attempt_images(attempt.attempt_id) == summary.images
    finally:
        store.close()
