"""Project archives: the tar.gz a client pushes (Digdag's `PUT /api/projects`) and a worker
unpacks. This module owns how they are packed, checked and unpacked.

    pack_project(folder)          the folder as `digdag push` packs it: regular files and
                                  in-folder symlinks, sorted, modes and mtimes kept, no
                                  directory entries; dot-files and `.digdagignore` left out
    check_archive(data)           every entry checked without writing anything; an unsafe
                                  entry refuses the whole archive (ArchiveRefused names it)
    unpack_archive(data, dest)    check, then write into a temporary sibling of `dest` and
                                  rename it into place: a failure leaves nothing at `dest`
    read_file(data, name)         one regular file of a checked archive

Reading never trusts the archive: it is decompressed as a stream through a byte budget that
grows only with what the accepted entries account for (their declared sizes plus header
slack), so a gzip bomb, in file data or in oversized tar headers, stops after a few KiB.

Refused: data that is not a gzip-compressed tar, compressed data or file sizes above
`max_bytes`, more than `max_entries` entries, empty / absolute / `..` / NUL / backslash /
non-UTF-8 names, hard links, devices, FIFOs, symlinks with an absolute target or one that
leaves the project (a target may only go up with `..` at its start: `x/../..` is refused
because `x` may itself be a link), two entries with the same normalised name, and entries
under a symlink or a file.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import os
import secrets
import shutil
import stat
import tarfile
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from dockerflow.errors import UserInputError

MAX_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 10_000
NOT_AN_ARCHIVE = "the project archive is not a gzip-compressed tar file"
IGNORE_FILE = ".digdagignore"

_HEADER_SLACK = 64 * 1024  # the next entry's headers and tarfile's read-ahead (10 KiB records)
_PER_ENTRY_SLACK = 4096  # each accepted entry: its header, a pax header, data padding
_CHUNK = 64 * 1024
_MAX_LINK_HOPS = 40


class ArchiveRefused(UserInputError):
    """A project archive is refused as a whole; `entry` is the name (as written in the
    archive) of the entry to blame, or None when the archive as a whole is at fault."""

    def __init__(self, message: str, entry: str | None = None) -> None:
        self.entry = entry
        super().__init__(message)


@dataclass(frozen=True)
class ArchiveEntry:
    name: str  # relative POSIX path, normalised (no leading "./", no trailing "/")
    kind: str  # "file" | "dir" | "symlink"
    size: int  # bytes (files), 0 otherwise
    mode: int  # permission bits as unpacked (no setuid/setgid/sticky; owner rw kept)
    link: str | None  # symlink target (relative, inside the project) or None


def check_archive(data: bytes, max_bytes: int = MAX_BYTES, max_entries: int = MAX_ENTRIES) -> list[ArchiveEntry]:
    """Validate a project archive without writing anything; raises ArchiveRefused."""
    return _scan(data, max_bytes, max_entries)


def unpack_archive(data: bytes, dest: Path, max_bytes: int = MAX_BYTES,
                   max_entries: int = MAX_ENTRIES) -> list[ArchiveEntry]:
    """check_archive, then write the entries under dest (created; must be empty or missing):
    directories, regular files with their mode bits (never setuid/setgid/sticky; owner rw kept), and
    in-project symlinks. Writes into a temporary sibling folder and renames it into place, so a failure
    midway leaves nothing at dest. FileExistsError when dest is there and not an empty folder."""
    dest = Path(dest)
    _check_dest(dest)
    entries = check_archive(data, max_bytes, max_entries)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{dest.name}.unpacking-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(partial)
    try:
        writer = _Writer(partial)
        _scan(data, max_bytes, max_entries, writer.add)
        writer.finish()
        _check_dest(dest)
        os.rename(partial, dest)  # replaces an empty folder; fails if one appeared meanwhile
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return entries


def read_file(data: bytes, name: str, max_bytes: int = MAX_BYTES) -> bytes | None:
    """One regular file of a (checked) archive, or None (missing, a folder, a bad name). Symlinks
    inside the project are followed; the whole archive is checked (ArchiveRefused)."""
    try:
        wanted = _normalise(name, name)
    except ArchiveRefused:
        return None
    found: dict[str, bytes] = {}

    def capture(entry: ArchiveEntry, fileobj: IO[bytes] | None) -> None:
        if entry.name == wanted and entry.kind == "file" and fileobj is not None:
            found[entry.name] = fileobj.read()

    entries = _scan(data, max_bytes, MAX_ENTRIES, capture)
    if wanted in found:
        return found[wanted]
    target = _resolve({e.name: e for e in entries}, wanted)
    if target is None or target == wanted:
        return None
    wanted = target
    _scan(data, max_bytes, MAX_ENTRIES, capture)
    return found.get(target)


def pack_project(folder: Path, *, exclude: Collection[Path] = (), digdag_rules: bool = True) -> bytes:
    """tar.gz of a project folder as `digdag push` packs it: regular files and symlinks that stay inside
    the folder (their target relative), relative names, no directory entries, mode bits kept, sorted
    names, mtimes kept. digdag_rules=True: dot-files and dot-folders (any path component starting with
    '.') are left out, and so are paths matching the patterns of a `.digdagignore` file at the top
    (one glob pattern per line, '#' comments and blank lines skipped; a pattern matches the relative
    path or any of its components, fnmatch-style; a trailing '/' matches folders only). `exclude`:
    absolute paths left out too (a database file inside the project, say). Symlinks that leave the
    folder or dangle are left out (and so do those whose target is left out). The same folder with the
    same mtimes always gives the same bytes (owners, gzip header time and name are fixed)."""
    root = Path(folder).resolve()
    rules = _PackRules(root, exclude, digdag_rules)
    items: list[tuple[str, Path, str | None]] = []  # (name, path, symlink target or None)
    _collect(root, "", rules, items)
    items.sort(key=lambda item: item[0])
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
            for name, path, link in items:
                info = tarfile.TarInfo(name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if link is not None:
                    st = path.lstat()
                    info.type = tarfile.SYMTYPE
                    info.linkname = link
                    info.mode = stat.S_IMODE(st.st_mode) & 0o777
                    info.mtime = int(st.st_mtime)
                    tar.addfile(info)
                    continue
                try:
                    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
                except OSError:
                    continue  # gone, or replaced by a symlink, since the walk
                with os.fdopen(fd, "rb") as f:
                    st = os.fstat(f.fileno())
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    content = f.read()
                info.size = len(content)
                info.mode = stat.S_IMODE(st.st_mode) & 0o777
                info.mtime = int(st.st_mtime)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


# -- reading -----------------------------------------------------------------------------------
class _Budget:
    """The decompressed stream, refused once it yields more than `allowance` bytes: the scan
    raises the allowance as it accepts entries, so headers or padding cannot inflate unchecked."""

    def __init__(self, data: bytes) -> None:
        self._gz = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
        self.read_bytes = 0
        self.allowance = _HEADER_SLACK

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = _CHUNK
        room = self.allowance - self.read_bytes
        chunk = self._gz.read(min(size, room + 1))
        self.read_bytes += len(chunk)
        if self.read_bytes > self.allowance:
            raise ArchiveRefused(f"the project archive unpacks to more than its entries account for "
                                 f"({_human(self.read_bytes)} read, in tar headers or padding): "
                                 f"it looks like a compression bomb")
        return chunk

    def close(self) -> None:
        self._gz.close()


def _scan(data: bytes, max_bytes: int, max_entries: int,
          sink: Callable[[ArchiveEntry, IO[bytes] | None], None] | None = None) -> list[ArchiveEntry]:
    """Every entry of the archive, checked in order; `sink` (when given) sees each accepted
    entry with a reader over its data (files) as it streams by."""
    if len(data) > max_bytes:
        size, limit = _sizes(len(data), max_bytes)
        raise ArchiveRefused(f"the project archive is {size}, more than the {limit} limit")
    budget = _Budget(data)
    state = _State(max_bytes, max_entries)
    try:
        stream = cast(IO[bytes], budget)
        with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape") as tar:
            for member in _members(tar):
                entry = state.accept(member)
                budget.allowance += _PER_ENTRY_SLACK + (-(-member.size // 512) * 512 if member.isreg() else 0)
                if entry is None:
                    continue
                if sink is not None:
                    sink(entry, tar.extractfile(member) if entry.kind == "file" else None)
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as e:  # not OSError: a full disk is not bad input
        where = f" (broken at or after entry {state.last!r})" if state.last is not None else ""
        raise ArchiveRefused(f"{NOT_AN_ARCHIVE}{where}: {e}", state.last) from None
    finally:
        budget.close()
    return state.entries


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while True:
        member = tar.next()
        if member is None:
            return
        yield member


class _State:
    """What the entries seen so far have made of the tree: the checks that need history."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.entries: list[ArchiveEntry] = []
        self.kinds: dict[str, tuple[str, str]] = {}  # explicit entries: (kind, name as written)
        self.parents: set[str] = set()  # every folder some entry lies in
        self.count = 0
        self.total = 0
        self.last: str | None = None
        self.root_seen = False

    def accept(self, member: tarfile.TarInfo) -> ArchiveEntry | None:
        raw = member.name
        self.count += 1
        if self.count > self.max_entries:
            raise ArchiveRefused(f"the project archive has more than {self.max_entries} entries "
                                 f"(refused at entry {raw!r})", raw)
        kind = _kind(member)
        name = _normalise(raw, raw)
        if name == "":
            if kind != "dir" or self.root_seen:
                raise _refused(raw, "names the project folder itself")
            self.root_seen = True
            self.last = raw
            return None  # "./": the root folder; its mode is the destination's business
        link = _check_link(raw, name, member.linkname) if kind == "symlink" else None
        if name in self.kinds:
            raise _refused(raw, f"is a second entry for {name!r} (the first is {self.kinds[name][1]!r})")
        parts = name.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            above = self.kinds.get(folder, ("", ""))[0]
            if above == "symlink":
                raise _refused(raw, f"lies under {folder!r}, which an earlier entry made a symlink")
            if above == "file":
                raise _refused(raw, f"lies under {folder!r}, which an earlier entry made a file")
        if kind != "dir" and name in self.parents:
            raise _refused(raw, f"is a {kind} but earlier entries lie inside {name!r}")
        size = 0
        if kind == "file":
            size = member.size
            self.total += size
            if self.total > self.max_bytes:
                total, limit = _sizes(self.total, self.max_bytes)
                raise ArchiveRefused(f"the project archive's files add up to more than the {limit} limit "
                                     f"({total} at entry {raw!r})", raw)
        bits = stat.S_IMODE(member.mode) & 0o777
        mode = {"file": bits | 0o600, "dir": bits | 0o700}.get(kind, bits)
        self.kinds[name] = (kind, raw)
        self.parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
        self.last = raw
        entry = ArchiveEntry(name=name, kind=kind, size=size, mode=mode, link=link)
        self.entries.append(entry)
        return entry


def _refused(raw: str, problem: str) -> ArchiveRefused:
    return ArchiveRefused(f"project archive entry {raw!r} {problem}", raw)


def _kind(member: tarfile.TarInfo) -> str:
    raw = member.name
    if member.isreg():
        return "file"
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        raise _refused(raw, f"is a hard link (to {member.linkname!r}): hard links are not supported in projects")
    if member.ischr():
        raise _refused(raw, "is a character device: devices are not allowed in projects")
    if member.isblk():
        raise _refused(raw, "is a block device: devices are not allowed in projects")
    if member.isfifo():
        raise _refused(raw, "is a FIFO: named pipes are not allowed in projects")
    raise _refused(raw, f"is of an unsupported kind (tar type {member.type!r})")


def _bad_text(text: str) -> str | None:
    """Why a name or link target cannot be used as is, or None."""
    if "\x00" in text:
        return "a NUL character"
    if "\\" in text:
        return "a backslash"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "bytes that are not UTF-8"
    return None


def _normalise(raw: str, entry: str) -> str:
    """The entry's name as a relative POSIX path ("" for the project folder itself)."""
    if raw == "":
        raise _refused(entry, "has an empty name")
    bad = _bad_text(raw)
    if bad is not None:
        raise _refused(entry, f"has {bad} in its name")
    if raw.startswith("/"):
        raise _refused(entry, "has an absolute name")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refused(entry, "has a '..' component in its name")
    return "/".join(parts)


def _check_link(raw: str, name: str, target: str) -> str:
    """The symlink's target, normalised, when it stays inside the project."""
    if target == "":
        raise _refused(raw, "is a symlink with an empty target")
    bad = _bad_text(target)
    if bad is not None:
        raise _refused(raw, f"is a symlink whose target has {bad}")
    if target.startswith("/"):
        raise _refused(raw, f"is a symlink to an absolute path ({target!r})")
    parts = [part for part in target.split("/") if part not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    if ".." in parts[ups:]:
        raise _refused(raw, f"is a symlink to {target!r}, which goes back up with '..' after a folder name "
                            f"(only leading '..' are allowed)")
    if ups > name.count("/"):
        raise _refused(raw, f"is a symlink to {target!r}, outside the project")
    return "/".join(parts) or "."


def _resolve(entries: dict[str, ArchiveEntry], name: str) -> str | None:
    """`name` with the archive's symlinks followed (lexically: links only go up at their start
    and live in real folders), or None when it leads nowhere or loops."""
    parts = name.split("/")
    hops = 0
    i = 0
    while i < len(parts):
        prefix = "/".join(parts[:i + 1])
        entry = entries.get(prefix)
        if entry is not None and entry.kind == "symlink" and entry.link is not None:
            hops += 1
            if hops > _MAX_LINK_HOPS:
                return None
            joined = os.path.normpath("/".join([*parts[:i], entry.link]))
            parts = [p for p in joined.split("/") if p not in ("", ".")] + parts[i + 1:]
            if ".." in parts:
                return None
            i = 0
            continue
        i += 1
    return "/".join(parts)


# -- writing -----------------------------------------------------------------------------------
class _Writer:
    """Writes accepted entries under `root`: folders and files as they stream by, symlinks at
    the end (so no write ever goes through a link), folder modes last."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.links: list[ArchiveEntry] = []
        self.dirs: list[ArchiveEntry] = []

    def add(self, entry: ArchiveEntry, fileobj: IO[bytes] | None) -> None:
        path = self.root / entry.name
        if entry.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
            self.dirs.append(entry)
        elif entry.kind == "symlink":
            self.links.append(entry)
        else:
            assert fileobj is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(path, flags, 0o600)
            with os.fdopen(fd, "wb") as out:
                written = 0
                while chunk := fileobj.read(_CHUNK):
                    written += len(chunk)
                    if written > entry.size:
                        raise ArchiveRefused(f"project archive entry {entry.name!r} holds more data than it declares",
                                             entry.name)
                    out.write(chunk)
                os.fchmod(out.fileno(), entry.mode)

    def finish(self) -> None:
        for entry in self.links:
            path = self.root / entry.name
            path.parent.mkdir(parents=True, exist_ok=True)
            assert entry.link is not None
            os.symlink(entry.link, path)
        for entry in self.dirs:
            os.chmod(self.root / entry.name, entry.mode)


def _check_dest(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise FileExistsError(f"cannot unpack the project archive into {dest}: it is there and not an empty folder")


# -- packing -----------------------------------------------------------------------------------
class _PackRules:
    """What pack_project leaves out."""

    def __init__(self, root: Path, exclude: Collection[Path], digdag_rules: bool) -> None:
        self.root = root
        self.digdag_rules = digdag_rules
        self.exclude: set[Path] = set()
        for path in exclude:
            path = Path(path)
            self.exclude.add(Path(os.path.normpath(path.absolute())))
            try:
                self.exclude.add(path.absolute().parent.resolve() / path.name)
            except OSError:
                pass
        self.patterns = _ignore_patterns(root / IGNORE_FILE) if digdag_rules else []

    def skip(self, rel: str, name: str, path: Path, is_dir: bool) -> bool:
        """One step of the walk: `path` (at `rel`, its last component `name`), its folders
        already admitted."""
        if path in self.exclude:
            return True
        if not self.digdag_rules:
            return False
        if name.startswith("."):
            return True
        for pattern, dirs_only, anchored in self.patterns:
            if dirs_only and not is_dir:
                continue
            if fnmatch.fnmatchcase(rel, pattern) or (not anchored and fnmatch.fnmatchcase(name, pattern)):
                return True
        return False

    def skip_target(self, target: Path) -> bool:
        """A symlink's resolved target (inside the root) is left out, or lies in a folder that is."""
        rel = target.relative_to(self.root)
        parts = rel.parts
        for i in range(len(parts)):
            path = self.root.joinpath(*parts[:i + 1])
            if self.skip("/".join(parts[:i + 1]), parts[i], path, path.is_dir()):
                return True
        return False


def _ignore_patterns(path: Path) -> list[tuple[str, bool, bool]]:
    """(pattern, folders only, anchored at the top) for each line of a `.digdagignore`."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    patterns: list[tuple[str, bool, bool]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        dirs_only = line.endswith("/")
        anchored = line.startswith("/")
        line = line.strip("/")
        if line:
            patterns.append((line, dirs_only, anchored or "/" in line))
    return patterns


def _collect(folder: Path, prefix: str, rules: _PackRules, items: list[tuple[str, Path, str | None]]) -> None:
    try:
        scan = list(os.scandir(folder))
    except OSError:
        return
    for item in scan:
        try:
            item.name.encode("utf-8")
        except UnicodeEncodeError:
            continue  # not representable in a project archive
        rel = prefix + item.name
        path = folder / item.name
        try:
            is_link = item.is_symlink()
            is_dir = item.is_dir()  # a link to a folder counts as a folder for `name/` patterns
            is_file = item.is_file(follow_symlinks=False)
        except OSError:
            continue
        if rules.skip(rel, item.name, path, is_dir):
            continue
        if is_link:
            link = _link_target(path, rules)
            if link is not None:
                items.append((rel, path, link))
        elif is_dir:
            _collect(path, rel + "/", rules, items)
        elif is_file:
            items.append((rel, path, None))


def _link_target(path: Path, rules: _PackRules) -> str | None:
    """The symlink's target relative to its folder, when it resolves to a file or folder that
    is inside the project and packed; None for links that dangle, loop or leave."""
    try:
        target = path.resolve(strict=True)
        st = target.stat()
    except (OSError, RuntimeError):
        return None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None
    if target != rules.root and rules.root not in target.parents:
        return None
    if target != rules.root and rules.skip_target(target):
        return None
    return Path(os.path.relpath(target, path.parent)).as_posix()


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _sizes(n: int, limit: int) -> tuple[str, str]:
    """`n` and `limit` for a message, exact when rounding would make them look alike."""
    text, limit_text = _human(n), _human(limit)
    if text == limit_text:
        return f"{n:,} bytes", f"{limit_text} ({limit:,} bytes)"
    return text, limit_text
