"""The task cache: `_cache: {inputs: [globs], outputs: [globs]}` skips a task whose inputs
did not change, restoring its output files and stored params instead of running it.

    task_cache(ctx, use)          the runner's entry: a CachedTask for sh>/py> tasks that see a
      ├── key()                   `_cache` param, else None
      │     sha256 of: the image id (DockerExecutor.image_id) or "host", the operator, the
      │     evaluated config, the params the task sees minus the per-attempt built-ins
      │     (VOLATILE_PARAMS), and each input file's path, executable bit and content hash
      ├── lookup()                a hit: outputs restored into the project, the stored result
      └── save(result)            after success only: a temp folder renamed into place, then
                                  the oldest entries are evicted down to the size limit
    TaskCache(root)               .dockerflow/cache/<key>/{manifest.json, files/<path>}
    parse_cache_value(value)      the `_cache` directive, validated (the compiler uses it too)

Globs are relative to the task's working directory (`${_workdir}` of the project), use
`**` for any depth, match files (a matched folder stands for every file below it) and never
reach into `.dockerflow/` or outside the project. Hooks (`^error`, `^check` and what runs
under them) are never cached.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dockerflow.dig.cache_directive import STATE_DIR, check_glob, parse_cache_value
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.units import parse_size

if TYPE_CHECKING:
    from dockerflow.operators.base import OperatorContext

CACHED_OPERATORS = frozenset({"sh", "py"})
# Built-ins that differ between attempts of one session: not part of the key.
VOLATILE_PARAMS = frozenset({"attempt_id", "session_id", "session_uuid", "retry_attempt_name"})
SIZE_ENV = "DOCKERFLOW_CACHE_SIZE"
DEFAULT_MAX_SIZE = 1 << 30  # 1 GiB
FORMAT = 1  # manifest and key layout version
_STALE_TMP = 3600.0  # seconds after which a leftover temp folder is removed by prune


# -- sizes -------------------------------------------------------------------------------------
def size_limit(environ: Mapping[str, str] | None = None) -> int:
    """$DOCKERFLOW_CACHE_SIZE in bytes (0: store nothing), else 1 GiB."""
    text = (os.environ if environ is None else environ).get(SIZE_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_SIZE
    try:
        return parse_size(text, SIZE_ENV)
    except ValueError as e:
        raise TaskFailure(str(e)) from None


def human_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


# -- files -------------------------------------------------------------------------------------
def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expand(patterns: list[str], workdir: Path, project_dir: Path, key: str) -> list[str]:
    """The files the globs match, as sorted project-relative POSIX paths; a matched folder
    stands for the files below it. Nothing in `.dockerflow/`; outside the project: refused."""
    project = os.path.normpath(project_dir)
    state = os.path.join(project, STATE_DIR)
    found: set[str] = set()
    for pattern in patterns:
        check_glob(pattern, key, lambda m, *_: TaskFailure(m), None)
        for match in glob.glob(pattern, root_dir=workdir, recursive=True):
            full = os.path.normpath(os.path.join(workdir, match))
            if full != project and not full.startswith(project + os.sep):
                raise TaskFailure(f"_cache {key}: '{pattern}' matches {match}, outside the"
                                  " project folder")
            for path in _files_under(full):
                if path == state or path.startswith(state + os.sep):
                    continue
                found.add(Path(os.path.relpath(path, project)).as_posix())
    return sorted(found)


def _files_under(path: str) -> Iterator[str]:
    if os.path.isfile(path):
        yield path
    elif os.path.isdir(path):
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            if os.path.basename(folder) == STATE_DIR:
                dirs.clear()
                continue
            for name in files:
                full = os.path.join(folder, name)
                if os.path.isfile(full):
                    yield full


def _executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


# -- the store ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntryInfo:
    key: str
    path: Path
    size: int
    used: float  # when it was written or last restored (manifest mtime)


_EVICT_LOCK = threading.Lock()


class TaskCache:
    """Entries under `root` (`<project>/.dockerflow/cache`), one folder per key."""

    def __init__(self, root: Path, max_size: int | None = None) -> None:
        self.root = root
        self.max_size = size_limit() if max_size is None else max_size

    def restore(self, key: str, project_dir: Path,
                say: Callable[[str], None] = lambda _line: None) -> TaskResult | None:
        """The stored result, with the output files written back; None on a miss (or an
        entry that is damaged or being evicted: the task then just runs)."""
        entry = self.root / key
        manifest_path = entry / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            return None
        try:
            for item in manifest["outputs"]:
                self._restore_file(entry, project_dir, item)
            os.utime(manifest_path)  # last used: eviction removes the least recently used
            return TaskResult.from_record(manifest.get("result") or {})
        except (OSError, KeyError, TypeError, ValueError) as e:
            say(f"[dockerflow] cache entry {key[:12]} could not be restored ({e}); running the"
                " task")
            shutil.rmtree(entry, ignore_errors=True)
            return None

    def _restore_file(self, entry: Path, project_dir: Path, item: Mapping[str, Any]) -> None:
        rel = PurePosixPath(str(item["path"]))
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"bad path {rel}")
        src = entry / "files" / rel
        dst = project_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.parent / f".{dst.name}.dockerflow-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copyfile(src, tmp)
            if _hash_file(tmp) != item["sha256"]:
                raise ValueError(f"{rel} does not match its hash")
            os.chmod(tmp, int(item["mode"]) & 0o7777)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)

    def save(self, key: str, task_name: str, result: TaskResult, project_dir: Path,
             outputs: list[str], say: Callable[[str], None] = lambda _line: None) -> bool:
        """Store an entry (replacing one of the same key); False when it does not fit."""
        if self.max_size <= 0:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        try:
            items = []
            total = 0
            for rel in outputs:
                src = project_dir / rel
                dst = tmp / "files" / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                size = dst.stat().st_size
                total += size
                items.append({"path": rel, "sha256": _hash_file(dst), "size": size,
                              "mode": stat.S_IMODE(src.stat().st_mode)})
                if total > self.max_size:
                    say(f"[dockerflow] not cached: the outputs are larger than the cache"
                        f" ({human_size(self.max_size)}; {SIZE_ENV})")
                    return False
            manifest = {"format": FORMAT, "task": task_name, "created": time.time(),
                        "result": result.to_record(), "outputs": items, "size": total}
            tmp.mkdir(parents=True, exist_ok=True)
            (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False,
                                                          default=str), encoding="utf-8")
            self._publish(tmp, self.root / key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.evict(self.max_size, keep=key)
        return True

    def _publish(self, tmp: Path, final: Path) -> None:
        """Rename `tmp` to `final`; an existing entry of the key is replaced (a concurrent
        writer of the same key may win instead: its entry is as good)."""
        old = None
        if final.exists():
            old = final.with_name(f".old-{uuid.uuid4().hex}")
            try:
                os.rename(final, old)
            except OSError:
                old = None
        try:
            os.rename(tmp, final)
        except OSError:
            pass  # another writer got there first
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def entries(self) -> list[EntryInfo]:
        """The entries, least recently used first."""
        out = []
        try:
            children = list(os.scandir(self.root))
        except FileNotFoundError:
            return []
        for child in children:
            if child.name.startswith(".") or not child.is_dir(follow_symlinks=False):
                continue
            path = Path(child.path)
            try:
                used = (path / "manifest.json").stat().st_mtime
            except OSError:
                used = 0.0  # damaged or half-removed: evicted first
            size = sum(os.path.getsize(f) for f in _files_under(child.path)
                       if os.path.exists(f))
            out.append(EntryInfo(child.name, path, size, used))
        out.sort(key=lambda e: (e.used, e.key))
        return out

    def evict(self, max_size: int, keep: str | None = None) -> list[EntryInfo]:
        """Remove least recently used entries until the rest fit in `max_size` bytes."""
        with _EVICT_LOCK:
            entries = self.entries()
            total = sum(e.size for e in entries)
            removed = []
            for entry in entries:
                if total <= max_size:
                    break
                if entry.key == keep and total - entry.size <= max_size:
                    continue
                shutil.rmtree(entry.path, ignore_errors=True)
                total -= entry.size
                removed.append(entry)
            self._remove_stale_tmp()
            return removed

    def clear(self) -> list[EntryInfo]:
        entries = self.entries()
        for entry in entries:
            shutil.rmtree(entry.path, ignore_errors=True)
        self._remove_stale_tmp(age=0.0)
        return entries

    def _remove_stale_tmp(self, age: float = _STALE_TMP) -> None:
        try:
            children = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        now = time.time()
        for child in children:
            if child.name.startswith((".tmp-", ".old-")):
                try:
                    if now - child.stat(follow_symlinks=False).st_mtime >= age:
                        shutil.rmtree(child.path, ignore_errors=True)
                except OSError:
                    pass


def cache_root(project_dir: Path) -> Path:
    return project_dir / STATE_DIR / "cache"


# -- one task ------------------------------------------------------------------------------
@dataclass
class CachedTask:
    """The cache as one task uses it: `lookup()` before running, `save()` after success."""

    cache: TaskCache
    key: str
    outputs: list[str]
    ctx: OperatorContext
    use: bool = True  # False (--no-cache): never a hit, but the entry is refreshed
    hit: bool = False

    def lookup(self) -> TaskResult | None:
        if not self.use:
            return None
        result = self.cache.restore(self.key, self.ctx.project_dir, self.ctx.output)
        self.hit = result is not None
        return result

    def save(self, result: TaskResult) -> None:
        """Store the entry; a cache that cannot be written is a warning, not a failure."""
        try:
            files = expand(self.outputs, self.ctx.workdir, self.ctx.project_dir, "outputs")
            for pattern in self.outputs:
                if not glob.has_magic(pattern) and not (self.ctx.workdir / pattern).exists():
                    self.ctx.output(f"[dockerflow] cache: output '{pattern}' does not exist")
            self.cache.save(self.key, self.ctx.full_name, result, self.ctx.project_dir, files,
                            self.ctx.output)
        except (OSError, TaskFailure) as e:
            self.ctx.output(f"[dockerflow] warning: the result was not cached: {e}")


def task_cache(ctx: OperatorContext, use: bool = True,
               cache: TaskCache | None = None) -> CachedTask | None:
    """The cache of this task, or None when it is not cached (not sh>/py>, no `_cache`, or
    `_cache: false`, a hook, or an executor that cannot name its image)."""
    value = ctx.params.get("_cache")
    if ctx.op not in CACHED_OPERATORS or value is None or value is False:
        return None
    if "^error" in ctx.full_name or "^check" in ctx.full_name:
        return None
    spec = parse_cache_value(value, lambda m, *_: TaskFailure(f"{ctx.full_name}: {m}"))
    assert isinstance(spec, dict)
    image = image_of(ctx)
    if image is None:
        return None
    inputs = [[rel, "x" if _executable(ctx.project_dir / rel) else "-",
               _hash_file(ctx.project_dir / rel)]
              for rel in expand(spec["inputs"], ctx.workdir, ctx.project_dir, "inputs")]
    key = cache_key(image, ctx.op, ctx.config, ctx.params, inputs)
    return CachedTask(cache or TaskCache(cache_root(ctx.project_dir)), key, spec["outputs"],
                      ctx, use=use)


def cache_key(image: str, op: str, config: Mapping[str, Any], params: Mapping[str, Any],
              inputs: list[list[str]]) -> str:
    doc = {"format": FORMAT, "image": image, "op": op, "config": config,
           "params": {k: v for k, v in params.items() if k not in VOLATILE_PARAMS},
           "inputs": inputs}
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def image_of(ctx: OperatorContext) -> str | None:
    """"host", or the id of the image the task runs in (resolved, so pulled or built as the
    task would); None when the executor cannot tell."""
    raw = ctx.docker_config()
    if raw is None:
        return "host"
    from dockerflow.executors.docker_options import parse_docker_options

    options = parse_docker_options(raw, host_env=os.environ, base_dir=str(ctx.project_dir))
    image_id = getattr(ctx.docker(), "image_id", None)
    if image_id is None:
        return None
    return str(image_id(options, ctx.output))
