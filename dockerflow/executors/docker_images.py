"""Which image a task runs in: pull policy, `docker: build:` images, the python3 check.

    ImageResolver(api).resolve(options, on_output) -> ResolvedImage
        ├── _base(name, policy)        inspect / pull (cached per image name for this resolver)
        ├── _derived(base, options)    dockerflow-build:<sha256> built once (a lock per tag)
        └── has_python(image)          `python3 --version` in a throwaway container (cached per id)

With `locked` (image name -> id, from dockerflow.lock) a locked name runs in its locked id
when that id is present, whatever the name points to now; `strict` (run --locked) refuses
names that are not locked and locked ids that are gone. `on_image(name, id)` is called with
every image a task is about to run in (the base, and the derived image of a build:).

One resolver lives as long as its executor (one workflow run), so "pull: always" pulls each
image once per run, and a host-wide build of the same tag happens once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import docker
import docker.errors

from dockerflow.executors.docker_build import (
    build_image,
    context_tar,
    derived_dockerfile,
    derived_tag,
)
from dockerflow.executors.docker_errors import (
    ImageMissing,
    docker_errors,
    retrying,
    translate,
)
from dockerflow.executors.docker_options import DockerOptions, PullPolicy

BUILD_PREFIX = "[docker build] "


class KeyedLocks:
    """One lock per key (an image tag), created on demand; shared by every resolver."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


# A process-wide table: two executors building the same tag must not build it twice.
BUILD_LOCKS = KeyedLocks()


@dataclass(frozen=True)
class ResolvedImage:
    """The image a task runs in: its name (for messages), its id, and its environment."""

    name: str
    id: str
    env: tuple[str, ...] = ()
    repo_digests: tuple[str, ...] = ()  # `debian@sha256:...` (pulled images only)

    def env_value(self, key: str) -> str | None:
        prefix = key + "="
        for item in self.env:
            if item.startswith(prefix):
                return item[len(prefix):]
        return None


class ImageResolver:
    """Resolves, pulls and builds images; thread-safe; caches per image name and id."""

    def __init__(self, api: docker.APIClient, labels: Mapping[str, str] | None = None, *,
                 locked: Mapping[str, str] | None = None, strict: bool = False,
                 on_image: Callable[[str, str], None] | None = None) -> None:
        self._api = api
        self._locked = dict(locked or {})
        self._strict = strict
        self._on_image = on_image
        self._labels = dict(labels or {"dockerflow": "1"})
        self._lock = threading.Lock()
        self._by_name: dict[str, ResolvedImage] = {}
        self._python: dict[str, bool] = {}
        self._name_locks = KeyedLocks()
        self.builds = 0  # how many images this resolver built (observable in tests)

    def resolve(self, options: DockerOptions, on_output: Callable[[str], None]) -> ResolvedImage:
        """The image to run for `options`: the base image, or the derived image when build: is set."""
        base = self._base(options.image, options.pull)
        self._used(base)
        if not options.build:
            return base
        derived = self._derived(base, options, on_output)
        self._used(derived)
        return derived

    def base(self, name: str, policy: PullPolicy) -> ResolvedImage:
        """The image `name`: inspected, or pulled per `policy` (what `dockerflow lock` locks)."""
        return self._base(name, policy)

    def inspect(self, ref: str) -> ResolvedImage | None:
        """The image `ref` (a name or an id) on this engine, or None; never pulls."""
        return self._inspect(ref)

    def _used(self, image: ResolvedImage) -> None:
        if self._on_image is not None:
            self._on_image(image.name, image.id)

    # ------------------------------------------------------------ base images

    def _cached(self, name: str) -> ResolvedImage | None:
        with self._lock:
            return self._by_name.get(name)

    def _remember(self, image: ResolvedImage) -> ResolvedImage:
        with self._lock:
            self._by_name[image.name] = image
        return image

    def _inspect(self, name: str) -> ResolvedImage | None:
        try:
            info = retrying(lambda: self._api.inspect_image(name))
        except docker.errors.NotFound:
            return None
        except Exception as exc:
            raise translate(exc, base_url=self._api.base_url, image=name, doing=f"inspecting image {name}") from exc
        env = tuple((info.get("Config") or {}).get("Env") or ())
        digests = tuple(sorted(str(d) for d in info.get("RepoDigests") or ()))
        return ResolvedImage(name=name, id=str(info["Id"]), env=env, repo_digests=digests)

    def _base(self, name: str, policy: PullPolicy) -> ResolvedImage:
        cached = self._cached(name)
        if cached is not None:
            return cached
        with self._name_locks.get(name):
            cached = self._cached(name)
            if cached is not None:
                return cached
            locked = self._from_lock(name)
            if locked is not None:
                return self._remember(locked)
            found = None if policy is PullPolicy.ALWAYS else self._inspect(name)
            if found is None:
                if policy is PullPolicy.NEVER:
                    raise ImageMissing(
                        name,
                        f"image '{name}' is not present locally and docker.pull is never: build it or fix the name",
                    )
                self._pull(name)
                found = self._inspect(name)
                if found is None:
                    raise ImageMissing(name, f"image '{name}' was pulled but cannot be found: check the name")
            return self._remember(found)

    def _from_lock(self, name: str) -> ResolvedImage | None:
        """The locked image of `name` when it is present; None: resolve `name` as usual."""
        locked_id = self._locked.get(name)
        if locked_id is None:
            if self._strict:
                raise ImageMissing(name, f"image {name} is not in dockerflow.lock and run --locked runs only"
                                         " locked images: run `dockerflow lock` to add it")
            return None
        found = self._inspect(locked_id)
        if found is None:
            if self._strict:
                raise ImageMissing(name, f"image {name}: locked {locked_id}, here missing;"
                                         " run `dockerflow lock` to accept it")
            return None
        return replace(found, name=name)

    def _pull(self, name: str) -> None:
        try:  # the SDK splits name:tag and name@digest itself (no tag: latest)
            for chunk in self._api.pull(name, stream=True, decode=True):
                if "error" in chunk:
                    raise ImageMissing(
                        name,
                        f"image '{name}' is not present locally and could not be pulled: {chunk['error']}"
                        " — build it or fix the name",
                    )
        except ImageMissing:
            raise
        except docker.errors.APIError as exc:
            raise ImageMissing(
                name,
                f"image '{name}' is not present locally and could not be pulled: {exc.explanation or exc}"
                " — build it or fix the name",
            ) from exc
        except Exception as exc:
            raise translate(exc, base_url=self._api.base_url, image=name, doing=f"pulling {name}") from exc

    # ------------------------------------------------------------ derived images

    def _derived(self, base: ResolvedImage, options: DockerOptions, on_output: Callable[[str], None]) -> ResolvedImage:
        tag = derived_tag(base.id, options.build, options.build_settings)
        cached = self._cached(tag)
        if cached is not None:
            return cached
        with BUILD_LOCKS.get(tag):
            found = self._inspect(tag)
            if found is None:
                on_output(f"{BUILD_PREFIX}building {tag} from {base.name} ({len(options.build)} step(s))")
                build_image(
                    self._api,
                    context=context_tar(derived_dockerfile(base.id, options.build)),
                    tag=tag,
                    settings=options.build_settings,
                    labels={"dockerflow": "1", "dockerflow.base": base.name},
                    on_line=lambda line: on_output(BUILD_PREFIX + line),
                )
                with self._lock:
                    self.builds += 1
                found = self._inspect(tag)
                if found is None:
                    raise ImageMissing(tag, f"image '{tag}' was built but cannot be found")
            return self._remember(found)

    # ------------------------------------------------------------ python3 check

    def has_python(self, image: ResolvedImage) -> bool:
        """Whether `python3 --version` runs in the image (cached per image id)."""
        with self._lock:
            known = self._python.get(image.id)
        if known is not None:
            return known
        with BUILD_LOCKS.get("python3-check:" + image.id):
            with self._lock:
                known = self._python.get(image.id)
            if known is None:
                known = self._probe_python(image)
                with self._lock:
                    self._python[image.id] = known
        return known

    def _probe_python(self, image: ResolvedImage) -> bool:
        api = self._api
        with docker_errors(api.base_url, image=image.name, doing=f"checking python3 in {image.name}"):
            container = retrying(
                lambda: api.create_container(
                    image.id,
                    entrypoint=["python3"],
                    command=["--version"],
                    labels={**self._labels, "dockerflow.purpose": "python3-check"},
                    network_disabled=True,
                )
            )
            cid = container["Id"]
            try:
                try:
                    api.start(cid)
                except docker.errors.APIError:
                    return False  # "executable file not found": no python3
                return int(api.wait(cid, timeout=None).get("StatusCode", 1)) == 0
            finally:
                try:
                    retrying(lambda: api.remove_container(cid, force=True))
                except docker.errors.NotFound:
                    pass
