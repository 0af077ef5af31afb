"""The image lock: which images a project's workflows use, and `dockerflow.lock` (pure: no Docker).

    scan_project(project) -> Scan        every *.dig of the project (call> targets with what they inherit)
    scan_workflow(path, project) -> Scan one workflow and its call> targets (what `run --locked` checks)
    ImageLock.parse(text) / .render()    the file format, sorted and stable
    check_locked(uses, lock, here)       what differs between the lock and the local engine

Which `docker:` a task runs with is worked out as the runtime does it (runtime/params.py):
`_export: docker:` fragments merge key by key from the root down (the nearer wins), and a
task's own `docker:` key replaces the inherited map as a whole. Only `sh>` and `py>` run in
containers. Values holding `${...}` are evaluated per task, so they cannot be locked here:
they are listed in `Scan.notes`.

`dockerflow.lock` (at the project root):

    # comments
    image NAME ID [REPO_DIGEST]              an image a task runs in (or a build: base)
    build BASE_NAME BUILD_HASH BASE_ID        a `docker: build:` on BASE_NAME; BUILD_HASH
                                              hashes its lines and build_options
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockerflow.dig.compile import Compiler, has_expr, is_expr
from dockerflow.dig.operator_options import OPERATOR_NAMES
from dockerflow.dig.workflow import display_path, load_workflow, resolve_call
from dockerflow.dig.yaml_loader import load_file
from dockerflow.errors import DigError, UserInputError
from dockerflow.executors.docker_options import (
    BuildSettings,
    DockerOptionsError,
    PullPolicy,
    parse_docker_options,
)
from dockerflow.graph.spec import TaskSpec
from dockerflow.pathnames import LOCK_FILE
from dockerflow.runtime.params import deep_merge

CONTAINER_OPERATORS = frozenset({"sh", "py"})  # the operators that run in a container
_IMAGE_KEYS = ("image", "build", "build_options", "pull", "pull_always")

HEADER = """\
# dockerflow.lock: the images this project's workflows run in, resolved to image ids.
# Written by `dockerflow lock`: run it again after changing or rebuilding an image, and commit
# this file. `dockerflow run` runs the locked ids; `dockerflow run --locked` refuses to start
# when an image is missing or differs from this file.
#
# image NAME ID [REPO_DIGEST]        an image a task runs in, or the base of a docker: build:
# build BASE_NAME BUILD_HASH BASE_ID  a docker: build: on BASE_NAME (BUILD_HASH: its lines and build_options)
"""


# ---------------------------------------------------------------- which images are used


def build_hash(commands: Iterable[str], settings: BuildSettings) -> str:
    """A short hash of the `build:` lines and the build options that change the image."""
    payload = json.dumps([list(commands), settings.fingerprint()])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ImageUse:
    """An image some task runs in: `image`, or a derived image built on it (`build` set)."""

    image: str
    build: tuple[str, ...] = ()
    build_hash: str = ""
    pull: PullPolicy = field(default=PullPolicy.MISSING, compare=False)
    where: str = field(default="", compare=False)
    settings: BuildSettings = field(default_factory=BuildSettings, compare=False, hash=False)


@dataclass
class Scan:
    uses: list[ImageUse] = field(default_factory=list)  # sorted, one per (image, build)
    notes: list[str] = field(default_factory=list)  # what could not be locked, and why

    @property
    def images(self) -> dict[str, PullPolicy]:
        """Each image name, with the pull policy to lock it with (always > missing > never)."""
        order = [PullPolicy.NEVER, PullPolicy.MISSING, PullPolicy.ALWAYS]
        out: dict[str, PullPolicy] = {}
        for use in self.uses:
            old = out.get(use.image)
            out[use.image] = use.pull if old is None or order.index(use.pull) > order.index(old) else old
        return out


class _Walker:
    def __init__(self, project: Path) -> None:
        self.project = project
        self.uses: dict[ImageUse, ImageUse] = {}
        self.notes: dict[str, None] = {}
        self._workflows: dict[Path, TaskSpec] = {}
        self._walked: set[tuple[Path, str]] = set()

    def scan(self) -> Scan:
        uses = sorted(self.uses.values(), key=lambda u: (u.image, u.build_hash))
        return Scan(uses=uses, notes=list(self.notes))

    def workflow(self, path: Path) -> None:
        self._walk_file(path.resolve(), {})

    def _root(self, path: Path) -> TaskSpec:
        root = self._workflows.get(path)
        if root is None:
            root = load_workflow(path, self.project, warnings=[]).root
            self._workflows[path] = root
        return root

    def _walk_file(self, path: Path, params: dict[str, Any]) -> None:
        key = (path, json.dumps(params.get("docker"), sort_keys=True, default=str))
        if key in self._walked:
            return
        self._walked.add(key)
        self._walk(self._root(path), params, path)

    def _walk(self, root: TaskSpec, params: dict[str, Any], path: Path) -> None:
        stack: list[tuple[TaskSpec, dict[str, Any]]] = [(root, params)]
        while stack:
            spec, inherited = stack.pop()
            here = _merge_export(inherited, spec)
            if spec.op in CONTAINER_OPERATORS:
                own = spec.config["docker"] if "docker" in spec.config else here.get("docker")
                self._use(own, spec)
            elif spec.op == "call":
                target = spec.config.get("_command")
                if isinstance(target, str) and not is_expr(target):
                    self._walk_file(resolve_call(path.parent, target).resolve(), here)
                else:
                    self._note(spec, f"call> target {target!r} is evaluated per task: its images are not locked")
            elif spec.op is not None and is_expr(spec.op):
                self._note(spec, f"operator {spec.op!r} is evaluated per task: its image is not locked")
            for body in ("_do", "_else_do"):
                if body in spec.config and isinstance(spec.config[body], Mapping):
                    compiled = Compiler(OPERATOR_NAMES, context=spec.name).compile_task("+" + body[1:],
                                                                                        spec.config[body])
                    stack.append((compiled, here))
            hooks = [h for h in (spec.error, spec.check) if h is not None]
            stack.extend((child, here) for child in reversed([*spec.children, *hooks]))

    def _use(self, docker: Any, spec: TaskSpec) -> None:
        if docker is None or (isinstance(docker, Mapping) and not docker):
            return  # runs on the host
        if not isinstance(docker, Mapping):
            self._note(spec, f"docker: {docker!r} is evaluated per task: its image is not locked")
            return
        image = docker.get("image")
        if image is None:
            return  # the run refuses it; nothing to lock
        if not isinstance(image, str) or is_expr(image):
            self._note(spec, f"docker image {image!r} is evaluated per task: not locked")
            return
        literal = {k: docker[k] for k in _IMAGE_KEYS if k in docker and not has_expr(docker[k])}
        for key in ("build", "build_options"):
            if key in docker and key not in literal:
                self._note(spec, f"docker {key} of {image} is evaluated per task: the build is not locked"
                                 " (its base is)")
                literal.pop("build", None)
        try:
            options = parse_docker_options(literal, host_env={}, base_dir=str(self.project))
        except DockerOptionsError as e:
            raise DigError(str(e), spec.file, spec.line) from None
        where = spec.where()
        base = ImageUse(options.image, pull=options.pull, where=where)
        self.uses.setdefault(base, base)
        if options.build:
            derived = ImageUse(options.image, options.build, build_hash(options.build, options.build_settings),
                               pull=options.pull, where=where, settings=options.build_settings)
            self.uses.setdefault(derived, derived)

    def _note(self, spec: TaskSpec, message: str) -> None:
        where = spec.where()
        self.notes[f"{where}: {message}" if where else message] = None


def _merge_export(inherited: dict[str, Any], spec: TaskSpec) -> dict[str, Any]:
    """The `docker:` param below `spec`: its `_export: docker:` merged over the inherited one."""
    if "docker" not in spec.export:
        return inherited
    return deep_merge({"docker": _copy(inherited.get("docker"))}, {"docker": spec.export["docker"]})


def _copy(value: Any) -> Any:
    return deep_merge({}, value) if isinstance(value, Mapping) else value


def project_workflows(project: Path) -> Iterator[Path]:
    """The workflow files of a project: every *.dig outside hidden folders, sorted, except
    files with no task (`!include` fragments)."""
    for path in sorted(project.rglob("*.dig")):
        if any(part.startswith(".") for part in path.relative_to(project).parts[:-1]):
            continue
        config = load_file(path, display_name=display_path(path, project))
        if config and any(str(key).startswith("+") for key in config):
            yield path


def scan_project(project: Path) -> Scan:
    """Every image the project's workflows use (and what could not be known)."""
    walker = _Walker(project)
    for path in project_workflows(project):
        walker.workflow(path)
    return walker.scan()


def scan_workflow(path: Path, project: Path) -> Scan:
    """The images one workflow (with its call> targets) uses."""
    walker = _Walker(project)
    walker.workflow(path)
    return walker.scan()


# ---------------------------------------------------------------- the file


@dataclass(frozen=True)
class LockedImage:
    name: str
    id: str
    digest: str | None = None


@dataclass(frozen=True)
class LockedBuild:
    base: str
    build_hash: str
    base_id: str


@dataclass
class ImageLock:
    images: dict[str, LockedImage] = field(default_factory=dict)
    builds: dict[tuple[str, str], LockedBuild] = field(default_factory=dict)

    @property
    def ids(self) -> dict[str, str]:
        """image name -> locked id (what `run` runs)."""
        return {name: image.id for name, image in self.images.items()}

    def render(self) -> str:
        lines = [HEADER]
        for name in sorted(self.images):
            image = self.images[name]
            lines.append(" ".join(["image", image.name, image.id] + ([image.digest] if image.digest else [])) + "\n")
        for key in sorted(self.builds):
            build = self.builds[key]
            lines.append(f"build {build.base} {build.build_hash} {build.base_id}\n")
        return "".join(lines)

    @classmethod
    def parse(cls, text: str, file: str = LOCK_FILE) -> ImageLock:
        lock = cls()
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            words = line.split()
            if words[0] == "image" and len(words) in (3, 4):
                if words[1] in lock.images:
                    raise DigError(f"image {words[1]} is locked twice", file, number)
                lock.images[words[1]] = LockedImage(words[1], words[2], words[3] if len(words) == 4 else None)
            elif words[0] == "build" and len(words) == 4:
                lock.builds[(words[1], words[2])] = LockedBuild(words[1], words[2], words[3])
            else:
                raise DigError(f"expected 'image NAME ID [DIGEST]' or 'build BASE HASH BASE_ID', got {line!r};"
                               " run `dockerflow lock` to write it again", file, number)
        return lock


def lock_path(project: Path) -> Path:
    return project / LOCK_FILE


def read_lock(project: Path) -> ImageLock | None:
    """The project's lock, or None when it has none."""
    path = lock_path(project)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise UserInputError(f"{LOCK_FILE}: cannot read it: {e}") from None
    return ImageLock.parse(text)


def write_lock(project: Path, lock: ImageLock) -> bool:
    """Write the lock; False (and the file untouched) when it already holds the same bytes."""
    path = lock_path(project)
    text = lock.render()
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


# ---------------------------------------------------------------- checking


def short_id(image_id: str) -> str:
    """sha256:1a2b3c4d5e6f (12 hex digits)."""
    algo, _, digits = image_id.partition(":")
    return f"{algo}:{digits[:12]}" if digits else image_id[:12]


def check_locked(uses: Iterable[ImageUse], lock: ImageLock, here: Mapping[str, str | None],
                 present: Iterable[str] = ()) -> list[str]:
    """Problems that make `run --locked` refuse, one line each.

    here     image name -> its id on this engine (None: not there)
    present  image ids that exist on this engine (a locked id may outlive its tag)
    """
    have = set(present)
    problems: dict[str, None] = {}
    accept = "run `dockerflow lock` to accept it"
    for use in uses:
        locked = lock.images.get(use.image)
        if locked is None:
            problems[f"image {use.image} ({use.where}): not in {LOCK_FILE}; run `dockerflow lock` to add it"] = None
            continue
        if use.build:
            build = lock.builds.get((use.image, use.build_hash))
            if build is None:
                problems[f"docker: build: on {use.image} ({use.where}): not in {LOCK_FILE};"
                         " run `dockerflow lock` to add it"] = None
            elif build.base_id != locked.id:
                problems[f"docker: build: on {use.image}: locked on {build.base_id}, but the image is locked as"
                         f" {locked.id}; {accept}"] = None
            continue
        current = here.get(use.image)
        if current == locked.id or (current is None and locked.id in have):
            continue
        problems[f"image {use.image}: locked {locked.id}, here {current or 'missing'}; {accept}"] = None
    return list(problems)


def images_line(images: Mapping[str, str]) -> str:
    """`Images: NAME sha256:1a2b3c4d5e6f, ...` for the summary of a run."""
    parts = []
    for name in sorted(images):
        shown = name
        repo, _, tag = name.partition(":")
        if repo == "dockerflow-build" and len(tag) > 12:
            shown = f"{repo}:{tag[:12]}"
        parts.append(f"{shown} {short_id(images[name])}")
    return "Images: " + ", ".join(parts)
