"""`dockerflow lock`: resolve every image of the project to its id in `dockerflow.lock`; and the
check of `dockerflow run --locked` (which images differ from the lock)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click

from dockerflow.errors import EngineUnavailable, ExecutorError, UserInputError
from dockerflow.imagelock import (
    LOCK_FILE,
    ImageLock,
    LockedBuild,
    LockedImage,
    check_locked,
    read_lock,
    scan_project,
    scan_workflow,
    short_id,
    write_lock,
)


def _say(text: str) -> None:
    click.echo(text, err=True)


def _repo_digest(name: str, digests: Iterable[str]) -> str | None:
    """The RepoDigests entry of `name`'s repository (`debian@sha256:...`), if any."""
    if "@" in name:
        return name
    last = name.rsplit("/", 1)[-1]
    repo = name[: len(name) - len(last)] + last.split(":", 1)[0]
    candidates = {repo, repo.removeprefix("docker.io/"), repo.removeprefix("docker.io/library/")}
    matching = sorted(d for d in digests if d.split("@", 1)[0] in candidates)
    return matching[0] if matching else None


@click.command("lock")
@click.option("--project", type=click.Path(file_okay=False), default=".",
              help="Project folder (default: the current folder).")
def lock(project: str) -> None:
    """Resolve the images of the project's workflows to ids in dockerflow.lock."""
    from dockerflow.executors.docker import DockerExecutor

    root = Path(project).resolve()
    scan = scan_project(root)  # a bad workflow is refused (exit 2) before Docker is contacted
    for note in scan.notes:
        _say(f"skipped {note}")
    try:
        old = read_lock(root)
    except UserInputError as e:  # rewritten below
        _say(f"warning: {e}")
        old = None
    new = ImageLock()
    missing: list[str] = []
    if scan.uses:
        executor = DockerExecutor()
        try:
            resolver = executor.resolver
            for name, policy in scan.images.items():
                try:
                    image = resolver.base(name, policy)
                except EngineUnavailable:
                    raise
                except ExecutorError as e:  # missing, and not pulled (pull: never, or it failed)
                    where = next(u.where for u in scan.uses if u.image == name)
                    missing.append(f"{where}: {e}" if where else str(e))
                    continue
                new.images[name] = LockedImage(name, image.id, _repo_digest(name, image.repo_digests))
        finally:
            executor.close()
    if missing:
        for line in missing:
            _say(f"error: {line}")
        _say(f"{LOCK_FILE} not written: {_count(len(missing), 'image')} missing")
        raise SystemExit(1)
    for use in scan.uses:
        if use.build:
            new.builds[(use.image, use.build_hash)] = LockedBuild(use.image, use.build_hash, new.images[use.image].id)
    for name in sorted(new.images):
        was = old.images.get(name) if old is not None else None
        now = new.images[name].id
        change = "" if was is None or was.id == now else f" (was {short_id(was.id)})"
        _say(f"image {name} {short_id(now)}{change}")
    changed = write_lock(root, new)
    what = _count(len(new.images), "image") + (f", {_count(len(new.builds), 'build')}" if new.builds else "")
    _say(f"{'wrote' if changed else 'unchanged:'} {LOCK_FILE} ({what})")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def locked_images(project: Path, workflow: Path, strict: bool) -> ImageLock | None:
    """The project's lock for `run` (None: no lock). With `strict` (--locked), refuse (exit 2)
    unless every image the workflow uses is present with its locked id; this runs before the
    attempt exists."""
    lock_file = read_lock(project)
    if not strict:
        return lock_file
    if lock_file is None:
        raise UserInputError(f"--locked: {project / LOCK_FILE} does not exist; run `dockerflow lock` to write it")
    scan = scan_workflow(workflow, project)
    if not scan.uses:
        return lock_file
    here, present = _inspect_all(scan.images, [i.id for i in lock_file.images.values()])
    problems = check_locked(scan.uses, lock_file, here, present)
    if problems:
        raise UserInputError(f"--locked: the images differ from {LOCK_FILE}:\n"
                             + "\n".join(f"  {problem}" for problem in problems))
    return lock_file


def _inspect_all(names: Iterable[str], ids: Iterable[str]) -> tuple[dict[str, str | None], set[str]]:
    """(name -> id or None, the ids present) on the local engine; no pulls."""
    from dockerflow.executors.docker import DockerExecutor

    executor = DockerExecutor()
    try:
        resolver = executor.resolver

        def image_id(ref: str) -> str | None:
            found = resolver.inspect(ref)
            return None if found is None else found.id

        return {name: image_id(name) for name in names}, {i for i in ids if image_id(i) is not None}
    finally:
        executor.close()
