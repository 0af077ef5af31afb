"""`dockerflow lock` and `run --locked` against a real engine, with an image rebuilt under us."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockerflow.executors.docker_build import build_image, context_tar
from dockerflow.imagelock import ImageLock, short_id

CLI = [sys.executable, "-m", "dockerflow"]
BASE = "dockerflow/debian-base:bookworm"

pytestmark = pytest.mark.docker


class MarkerImage:
    """A tiny image under a tag of this test only, rebuilt with other content on demand."""

    def __init__(self, client: docker.DockerClient, folder: Path) -> None:
        self.client = client
        self.folder = folder
        self.tag = f"dockerflow-test/lock-{uuid.uuid4().hex[:10]}:1"
        self.ids: list[str] = []

    def build(self, marker: str) -> str:
        (self.folder / "marker").write_text(marker + "\n")
        dockerfile = f"FROM {BASE}\nCOPY marker /marker\n"
        context = context_tar(dockerfile, self.folder)
        image_id = build_image(self.client.api, context=context, tag=self.tag, on_line=lambda line: None,
                               labels={"dockerflow.test": "image-lock"})
        self.ids.append(image_id)
        return image_id

    def remove(self) -> None:
        for image_id in reversed(self.ids):
            try:
                self.client.images.remove(image_id, force=True)
            except docker.errors.NotFound:
                pass


@pytest.fixture
def image(client: docker.DockerClient, runner_images: None, tmp_path: Path) -> Iterator[MarkerImage]:
    folder = tmp_path / "image"
    folder.mkdir()
    made = MarkerImage(client, folder)
    try:
        yield made
    finally:
        made.remove()


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), cwd=project, capture_output=True, text=True, timeout=300)


def _attempts(project: Path) -> list[tuple[int, str]]:
    db = sqlite3.connect(project / ".dockerflow" / "state.db")
    try:
        return [(int(i), str(s)) for i, s in db.execute("SELECT id, status FROM attempts ORDER BY id")]
    finally:
        db.close()


def _images_of(project: Path, attempt_id: int) -> dict[str, str]:
    db = sqlite3.connect(project / ".dockerflow" / "state.db")
    try:
        rows = db.execute("SELECT name, id FROM attempt_images WHERE attempt_id = ?", (attempt_id,))
        return {str(n): str(i) for n, i in rows}
    finally:
        db.close()


def test_a_rebuilt_image_is_refused_by_locked_and_plain_run_keeps_the_locked_id(
        image: MarkerImage, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "wf.dig").write_text(
        f"_export:\n  docker:\n    image: {image.tag}\n    pull: never\n"
        "+show:\n  sh>: cat /marker > out.txt\n")
    first = image.build("one")

    made = _cli(project, "lock")
    assert made.returncode == 0, made.stderr
    lock_text = (project / "dockerflow.lock").read_text()
    assert f"image {image.tag} {first}\n" in lock_text
    assert "wrote dockerflow.lock (1 image)" in made.stderr
    again = _cli(project, "lock")
    assert again.returncode == 0 and "unchanged: dockerflow.lock" in again.stderr, again.stderr
    assert (project / "dockerflow.lock").read_text() == lock_text  # byte-stable

    ran = _cli(project, "run", "wf.dig", "--session", "2024-01-01", "--locked")
    assert ran.returncode == 0, ran.stderr
    assert (project / "out.txt").read_text() == "one\n"
    assert f"Images: {image.tag} {short_id(first)}" in ran.stderr.splitlines()[-1]
    (attempt_id, status), = _attempts(project)
    assert status == "success" and _images_of(project, attempt_id) == {image.tag: first}

    second = image.build("two")  # the same tag, other content
    assert second != first
    (project / "out.txt").unlink()
    refused = _cli(project, "run", "wf.dig", "--session", "2024-01-01", "--rerun", "--locked")
    assert refused.returncode == 2, refused.stderr
    assert f"image {image.tag}: locked {first}, here {second}; run `dockerflow lock` to accept it" in refused.stderr
    assert "started" not in refused.stdout and not (project / "out.txt").exists()
    assert _attempts(project) == [(attempt_id, "success")]  # no attempt was started

    plain = _cli(project, "run", "wf.dig", "--session", "2024-01-01", "--rerun")
    assert plain.returncode == 0, plain.stderr
    assert (project / "out.txt").read_text() == "one\n"  # the locked id, not what the tag is now
    assert _images_of(project, _attempts(project)[-1][0]) == {image.tag: first}

    accepted = _cli(project, "lock")
    assert accepted.returncode == 0, accepted.stderr
    assert f"image {image.tag} {short_id(second)} (was {short_id(first)})" in accepted.stderr
    assert ImageLock.parse((project / "dockerflow.lock").read_text()).ids == {image.tag: second}
    now = _cli(project, "run", "wf.dig", "--session", "2024-01-01", "--rerun", "--locked")
    assert now.returncode == 0, now.stderr
    assert (project / "out.txt").read_text() == "two\n"


def test_missing_images_and_no_lock_are_refused(image: MarkerImage, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "wf.dig").write_text(
        f"+show:\n  docker:\n    image: {image.tag}\n    pull: never\n  sh>: echo hi\n")
    no_lock = _cli(project, "run", "wf.dig", "--locked")
    assert no_lock.returncode == 2 and "dockerflow.lock does not exist" in no_lock.stderr, no_lock.stderr
    missing = _cli(project, "lock")  # the image is not built yet, and pull: never
    assert missing.returncode == 1, missing.stderr
    assert f"wf.dig:2: image '{image.tag}' is not present locally" in missing.stderr
    assert not (project / "dockerflow.lock").exists()
    first = image.build("one")
    assert _cli(project, "lock").returncode == 0
    image.remove()  # gone: tag and id
    gone = _cli(project, "run", "wf.dig", "--locked")
    assert gone.returncode == 2, gone.stderr
    assert f"image {image.tag}: locked {first}, here missing" in gone.stderr


def test_build_bases_and_build_inputs_are_locked(image: MarkerImage, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "wf.dig").write_text(
        f"_export:\n  docker:\n    image: {image.tag}\n    pull: never\n    build: [echo built > /built]\n"
        "+a:\n  sh>: cat /built\n+b:\n  docker:\n    image: ${img}\n  sh>: echo b\n")
    base = image.build("one")
    made = _cli(project, "lock")
    assert made.returncode == 0, made.stderr
    assert "skipped wf.dig:9: docker image '${img}' is evaluated per task: not locked" in made.stderr
    lock = ImageLock.parse((project / "dockerflow.lock").read_text())
    assert lock.ids == {image.tag: base}
    (build,) = lock.builds.values()
    assert build.base == image.tag and build.base_id == base and len(build.build_hash) == 16


def test_locked_run_fails_a_task_whose_image_is_not_locked(image: MarkerImage, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "wf.dig").write_text(
        f"+a:\n  docker:\n    image: {image.tag}\n    pull: never\n  sh>: cat /marker\n"
        "+b:\n  docker:\n    image: ${img}\n    pull: never\n  sh>: echo b\n")
    image.build("one")
    assert _cli(project, "lock").returncode == 0
    (project / "dockerflow.lock").write_text(
        (project / "dockerflow.lock").read_text().replace(image.tag, "dockerflow-test/other:1"))
    ran = _cli(project, "run", "wf.dig", "-p", f"img={image.tag}")  # not strict: the name resolves as usual
    assert ran.returncode == 0, ran.stderr
    refused = _cli(project, "run", "wf.dig", "--rerun", "--locked", "-p", f"img={image.tag}")
    assert refused.returncode == 2 and f"image {image.tag} (wf.dig:2): not in dockerflow.lock" in refused.stderr
    (project / "wf.dig").write_text("+b:\n  docker:\n    image: ${img}\n    pull: never\n  sh>: echo b\n")
    failed = _cli(project, "run", "wf.dig", "--rerun", "--locked", "-p", f"img={image.tag}")
    assert failed.returncode == 1, failed.stderr
    assert f"image {image.tag} is not in dockerflow.lock and run --locked runs only locked images" in failed.stderr
