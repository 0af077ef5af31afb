"""Project archives: packing like `digdag push`, and refusing unsafe archives whole."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockerflow.archive import (
    NOT_AN_ARCHIVE,
    ArchiveEntry,
    ArchiveRefused,
    check_archive,
    pack_project,
    read_file,
    unpack_archive,
)
from dockerflow.errors import UserInputError

Member = tuple[tarfile.TarInfo, bytes | None]


def _file(name: str, data: bytes = b"x", mode: int = 0o644, **fields: object) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def _special(name: str, kind: bytes, linkname: str = "", **fields: object) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o777 if kind == tarfile.SYMTYPE else 0o755
    for key, value in fields.items():
        setattr(info, key, value)
    return info, None


def _link(name: str, target: str) -> Member:
    return _special(name, tarfile.SYMTYPE, target)


def _tgz(*members: Member) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _tree(root: Path) -> dict[str, object]:
    """Everything under root: file contents and exec bits, link targets, folders."""
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = (path.read_bytes(), bool(path.stat().st_mode & 0o100))
    return out


def _project(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    (root / "data" / "deep").mkdir(parents=True)
    (root / "main.dig").write_text("+step:\n  sh>: scripts/run.sh\n")
    (root / "scripts" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "scripts" / "run.sh").chmod(0o755)
    (root / "data" / "deep" / "x.txt").write_bytes(b"\x00\x01payload")
    os.symlink("data/deep/x.txt", root / "latest.txt")
    os.symlink("../scripts/run.sh", root / "data" / "run.sh")
    os.symlink("deep", root / "data" / "here")  # a link to a folder stays a link
    return root


# -- a good project round-trips ----------------------------------------------------------------
def test_pack_check_unpack_round_trip(tmp_path: Path) -> None:
    src = _project(tmp_path / "src")
    data = pack_project(src)
    entries = {e.name: e for e in check_archive(data)}
    assert sorted(entries) == ["data/deep/x.txt", "data/here", "data/run.sh", "latest.txt", "main.dig",
                               "scripts/run.sh"]
    assert entries["latest.txt"] == ArchiveEntry("latest.txt", "symlink", 0, 0o777, "data/deep/x.txt")
    assert entries["data/run.sh"].link == "../scripts/run.sh"
    assert entries["scripts/run.sh"].mode == 0o755 and entries["main.dig"].mode & 0o777 == 0o644
    assert entries["data/deep/x.txt"].size == len(b"\x00\x01payload")

    dest = tmp_path / "out" / "project"
    assert unpack_archive(data, dest) == list(entries.values())
    assert _tree(dest) == _tree(src)
    assert (dest / "latest.txt").read_bytes() == b"\x00\x01payload"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["project"]  # no temporary sibling


def test_pack_has_no_directory_entries_and_keeps_mtimes(tmp_path: Path) -> None:
    src = _project(tmp_path / "src")
    os.utime(src / "main.dig", (1_600_000_000, 1_600_000_000))
    with tarfile.open(fileobj=io.BytesIO(pack_project(src)), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert not any(m.isdir() for m in members)
    main = next(m for m in members if m.name == "main.dig")
    assert main.mtime == 1_600_000_000 and main.uid == 0 and main.uname == ""


def test_unpack_into_an_empty_folder_and_not_into_a_full_one(tmp_path: Path) -> None:
    data = _tgz(_file("a.dig", b"+a:\n  echo>: hi\n"))
    empty = tmp_path / "empty"
    empty.mkdir()
    unpack_archive(data, empty)
    assert (empty / "a.dig").read_bytes() == b"+a:\n  echo>: hi\n"
    with pytest.raises(FileExistsError, match="not an empty folder"):
        unpack_archive(data, empty)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_unpack_modes_drop_setuid_and_keep_owner_rw(tmp_path: Path) -> None:
    data = _tgz(_special("bin", tarfile.DIRTYPE, mode=0o555),
                _file("bin/tool", b"#!/bin/sh\n", mode=0o6755),
                _file("locked", b"secret", mode=0o000),
                _file("sticky", b"s", mode=0o1777))
    entries = {e.name: e.mode for e in unpack_archive(data, tmp_path / "p")}
    assert entries == {"bin": 0o755, "bin/tool": 0o755, "locked": 0o600, "sticky": 0o777}
    for name, mode in entries.items():
        assert stat.S_IMODE((tmp_path / "p" / name).stat().st_mode) == mode


def test_unpack_accepts_dot_slash_names_and_a_root_entry(tmp_path: Path) -> None:
    data = _tgz(_special(".", tarfile.DIRTYPE), _file("./a//b/./c.txt", b"c"), _link("./b/l", "./c.txt"))
    assert [(e.name, e.link) for e in unpack_archive(data, tmp_path / "p")] == [("a/b/c.txt", None), ("b/l", "c.txt")]
    assert (tmp_path / "p" / "a" / "b" / "c.txt").read_bytes() == b"c"


def test_a_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _tgz(_file("a/b.txt"), _link("l", "a/b.txt"))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "symlink", broken)
    with pytest.raises(OSError, match="No space left"):
        unpack_archive(data, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_read_file(tmp_path: Path) -> None:
    data = _tgz(_file("a.dig", b"A"), _file("sub/b.txt", b"B"), _link("sub/up", ".."), _link("c", "sub/b.txt"))
    assert read_file(data, "a.dig") == b"A"
    assert read_file(data, "./sub//b.txt") == b"B"
    assert read_file(data, "c") == b"B"
    assert read_file(data, "sub/up/a.dig") == b"A"
    assert read_file(data, "sub") is None
    assert read_file(data, "missing") is None
    assert read_file(data, "../etc/passwd") is None
    with pytest.raises(ArchiveRefused):
        read_file(_tgz(_file("a.dig"), _file("../x")), "a.dig")


# -- refusals: the whole archive, naming the entry ---------------------------------------------
REFUSED: dict[str, tuple[list[Member], str, str]] = {
    "absolute": ([_file("ok.dig"), _file("/etc/cron.d/evil")], "/etc/cron.d/evil", "absolute name"),
    "dotdot": ([_file("../evil")], "../evil", "'..' component"),
    "dotdot-inside": ([_file("a/../../evil")], "a/../../evil", "'..' component"),
    "dotdot-harmless-looking": ([_file("a/../b")], "a/../b", "'..' component"),
    "empty-name": ([_file("ok"), _file("")], "", "empty name"),
    "nul": ([_file("ok", pax_headers={"path": "a\x00/../../x"})], "a\x00/../../x", "NUL"),
    "backslash": ([_file("..\\..\\evil.bat")], "..\\..\\evil.bat", "backslash"),
    "root-as-file": ([_file("./")], "./", "project folder itself"),
    "hardlink": ([_file("a.dig"), _special("b.dig", tarfile.LNKTYPE, "a.dig")], "b.dig", "hard link"),
    "link-absolute": ([_link("passwd", "/etc/passwd")], "passwd", "absolute path"),
    "link-outside": ([_link("sub/out", "../../etc")], "sub/out", "outside the project"),
    "link-outside-top": ([_link("out", "..")], "out", "outside the project"),
    "link-up-after-name": ([_link("sub/x", ".."), _link("sub/l", "x/../..")], "sub/l", "only leading '..'"),
    "link-empty": ([_link("l", "")], "l", "empty target"),
    "chardev": ([_special("tty", tarfile.CHRTYPE, devmajor=4, devminor=1)], "tty", "character device"),
    "blockdev": ([_special("sda", tarfile.BLKTYPE, devmajor=8)], "sda", "block device"),
    "fifo": ([_special("pipe", tarfile.FIFOTYPE)], "pipe", "FIFO"),
    "duplicate": ([_file("a.dig", b"1"), _file("a.dig", b"2")], "a.dig", "second entry for 'a.dig'"),
    "duplicate-normalised": ([_file("./a.dig"), _file("a.dig")], "a.dig", "the first is './a.dig'"),
    "under-symlink": ([_link("lnk", "sub"), _file("lnk/evil")], "lnk/evil", "made a symlink"),
    "under-symlink-dir": ([_link("lnk", "."), _special("lnk/d", tarfile.DIRTYPE)], "lnk/d", "made a symlink"),
    "under-file": ([_file("a"), _file("a/b")], "a/b", "made a file"),
    "symlink-over-folder": ([_file("d/x"), _link("d", "x")], "d", "earlier entries lie inside 'd'"),
    "unknown-type": ([_special("vol", b"V")], "vol", "unsupported kind"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsafe_archives_are_refused_whole(case: str, tmp_path: Path) -> None:
    members, entry, problem = REFUSED[case]
    data = _tgz(*members)
    with pytest.raises(ArchiveRefused) as refused:
        check_archive(data)
    assert refused.value.entry == entry
    assert repr(entry) in str(refused.value) and problem in str(refused.value)
    assert isinstance(refused.value, UserInputError)
    with pytest.raises(ArchiveRefused, match="project archive entry"):
        unpack_archive(data, tmp_path / "out" / "p")
    assert list(tmp_path.iterdir()) == []  # not even the parent folder


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 a zip file", gzip.compress(b"not a tar " * 100),
                                  _tgz(_file("a.dig", os.urandom(5000)))[:2000]],
                         ids=["empty", "zip", "gzip-not-tar", "truncated"])
def test_not_a_gzip_tar(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(ArchiveRefused, match=NOT_AN_ARCHIVE):
        check_archive(data)
    with pytest.raises(ArchiveRefused, match=NOT_AN_ARCHIVE):
        unpack_archive(data, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_too_many_entries(tmp_path: Path) -> None:
    data = _tgz(*(_file(f"f{i}") for i in range(4)))
    assert len(check_archive(data, max_entries=4)) == 4
    with pytest.raises(ArchiveRefused, match="more than 3 entries") as refused:
        unpack_archive(data, tmp_path / "p", max_entries=3)
    assert refused.value.entry == "f3"
    assert list(tmp_path.iterdir()) == []


def test_files_too_big_in_total(tmp_path: Path) -> None:
    data = _tgz(_file("a", b"a" * 600_000), _file("b", b"b" * 600_000))
    with pytest.raises(ArchiveRefused) as refused:
        unpack_archive(data, tmp_path / "p", max_bytes=1024 * 1024)
    assert refused.value.entry == "b"
    assert "more than the 1 MiB limit (1.1 MiB at entry 'b')" in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_compressed_data_too_big(tmp_path: Path) -> None:
    data = _tgz(_file("noise", os.urandom(8192)))
    with pytest.raises(ArchiveRefused, match=r"the project archive is 8\.\d KiB, more than the 4 KiB limit") as refused:
        unpack_archive(data, tmp_path / "p", max_bytes=4096)
    assert refused.value.entry is None
    assert list(tmp_path.iterdir()) == []


def _count_inflated(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    inflated = [0]
    real_read = gzip.GzipFile.read

    def counting(self: gzip.GzipFile, size: int = -1) -> bytes:
        chunk = real_read(self, size)
        inflated[0] += len(chunk)
        return chunk

    monkeypatch.setattr(gzip.GzipFile, "read", counting)
    return inflated


def test_gzip_bomb_is_not_inflated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _tgz(_file("small.txt", b"hi"), _file("zeros.bin", bytes(8 * 1024 * 1024)))
    assert len(data) < 16 * 1024
    inflated = _count_inflated(monkeypatch)
    with pytest.raises(ArchiveRefused, match=r"more than the 1 MiB limit \(8 MiB at entry 'zeros.bin'\)"):
        unpack_archive(data, tmp_path / "p", max_bytes=1024 * 1024)
    assert 0 < inflated[0] < 64 * 1024
    assert list(tmp_path.iterdir()) == []


def test_gzip_bomb_in_a_tar_header_is_not_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _tgz(_file("a.dig", pax_headers={"comment": "0" * (8 * 1024 * 1024)}))
    assert len(data) < 16 * 1024
    inflated = _count_inflated(monkeypatch)
    with pytest.raises(ArchiveRefused, match="compression bomb") as refused:
        check_archive(data, max_bytes=1024 * 1024)
    assert refused.value.entry is None
    assert inflated[0] < 128 * 1024


def test_refusals_are_user_errors_with_exact_limits() -> None:
    data = _tgz(_file("a", b"a" * 2049))
    with pytest.raises(ArchiveRefused, match=r"more than the 2 KiB \(2,048 bytes\) limit \(2,049 bytes at entry 'a'\)"):
        check_archive(data, max_bytes=2048)


# -- packing rules -----------------------------------------------------------------------------
def test_pack_leaves_out_dot_files_ignored_paths_bad_links_and_excludes(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    for rel in ["main.dig", ".env", ".git/config", "sub/.hidden", "sub/.cache/x", "sub/keep.py",
                "logs/run.log", "debug.log", "build/out.bin", "docs/build", "notes.md", "state.db",
                "state.db-wal", "tmp/a.txt"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / ".digdagignore").write_text("# build outputs\n\n*.log\nbuild/\n  #notes.md\n/tmp/\n")
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", root / "escape-abs")
    os.symlink("../outside.txt", root / "escape-rel")
    os.symlink("missing.txt", root / "dangling")
    os.symlink(".env", root / "to-dotfile")
    os.symlink("main.dig", root / "ok-link")
    os.symlink("loop", root / "loop")

    data = pack_project(root, exclude=[root / "state.db", root / "state.db-wal"])
    names = [e.name for e in check_archive(data)]
    assert names == ["docs/build", "main.dig", "notes.md", "ok-link", "sub/keep.py"]

    everything = [e.name for e in check_archive(pack_project(root, digdag_rules=False, exclude=[root / ".git"]))]
    assert ".env" in everything and "sub/.cache/x" in everything and "debug.log" in everything
    assert "to-dotfile" in everything and ".digdagignore" in everything
    assert not any(n.startswith(".git/") for n in everything)
    assert not {"escape-abs", "escape-rel", "dangling", "loop"} & set(everything)


def test_pack_matches_folder_patterns_against_components(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    for rel in ["a/node_modules/x.js", "node_modules/y.js", "src/app.js", "src/gen_1.py", "src/gen/z.py"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / ".digdagignore").write_text("node_modules/\ngen_*\nsrc/gen\n")
    assert [e.name for e in check_archive(pack_project(root))] == ["src/app.js"]


def test_pack_is_deterministic(tmp_path: Path) -> None:
    root = _project(tmp_path / "src")
    first = pack_project(root)
    for path in root.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000), follow_symlinks=False)
    second = pack_project(root)
    assert second == pack_project(root)
    assert first != second  # mtimes are kept
    (root / "main.dig").write_text("+step:\n  sh>: scripts/run.sh\n")
    os.utime(root / "main.dig", (1_700_000_000, 1_700_000_000))
    assert pack_project(root) == second
