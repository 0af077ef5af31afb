"""The task cache without running tasks: the `_cache` directive, keys, entries, eviction."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockerflow.dig.cache_directive import parse_cache_value
from dockerflow.dig.compile import Compiler
from dockerflow.dig.yaml_loader import load_text
from dockerflow.errors import DigError, TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators import OPERATOR_NAMES
from dockerflow.runtime.cache import TaskCache, cache_key, expand, size_limit
from dockerflow.sdk import Cache, Group, Sh, Workflow, parse_dig, to_dig
from dockerflow.units import parse_size


def _fail(message: str, *_where: object) -> ValueError:
    return ValueError(message)


# -- the directive -----------------------------------------------------------------------------
def test_parse_cache_value_normalizes() -> None:
    assert parse_cache_value({"inputs": ["src/*.py"]}, _fail) == {"inputs": ["src/*.py"],
                                                                  "outputs": []}
    assert parse_cache_value({}, _fail) == {"inputs": [], "outputs": []}
    assert parse_cache_value({"inputs": None, "outputs": ["o"]}, _fail) == {"inputs": [],
                                                                           "outputs": ["o"]}
    assert parse_cache_value(False, _fail) is False


@pytest.mark.parametrize("value,match", [
    (True, "must be a mapping"),
    ("src", "must be a mapping"),
    ({"input": ["a"]}, "did you mean 'inputs'"),
    ({"inputs": "a"}, "list of glob strings"),
    ({"outputs": [1]}, "list of glob strings"),
    ({"inputs": [""]}, "empty glob"),
    ({"inputs": ["/etc/passwd"]}, "relative"),
    ({"inputs": ["../x"]}, "leaves the project"),
    ({"inputs": ["a/../../x"]}, "leaves the project"),
])
def test_parse_cache_value_refuses(value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_cache_value(value, _fail, depth=0)


def test_dotdot_inside_the_project_is_fine() -> None:
    assert parse_cache_value({"inputs": ["../shared/*.csv"]}, _fail, depth=1)
    assert parse_cache_value({"inputs": ["a/../b", "${dir}/../../x"]}, _fail, depth=0)


def _compile(text: str) -> object:
    return Compiler(OPERATOR_NAMES, "main.dig").compile_workflow_root("main", load_text(text, "main.dig"))


def test_compile_carries_cache_in_export_and_false_turns_it_off() -> None:
    root = _compile("+g:\n  _cache: {inputs: [src]}\n  +a: {sh>: make}\n"
                    "  +b: {sh>: make, _cache: false}\n")
    group = root.children[0]  # type: ignore[attr-defined]
    assert group.export["_cache"] == {"inputs": ["src"], "outputs": []}
    a, b = group.children
    assert "_cache" not in a.export and "_cache" not in a.config
    assert b.export["_cache"] is False and "_cache" not in b.config


def test_compile_error_names_the_line() -> None:
    with pytest.raises(DigError, match=r"main.dig:3: Unknown key 'output' in _cache \(did you mean 'outputs'\?\)"):
        _compile("+a:\n  sh>: make\n  _cache: {output: [x]}\n")


# -- sizes, keys, files ------------------------------------------------------------------------
def test_parse_size() -> None:
    assert parse_size("1048576") == 1 << 20
    assert parse_size("500M") == 500 << 20
    assert parse_size("2G") == 2 << 30
    assert parse_size("1GiB") == 1 << 30
    assert parse_size("1.5k") == 1536
    assert size_limit({}) == 1 << 30
    assert size_limit({"DOCKERFLOW_CACHE_SIZE": "10M"}) == 10 << 20
    with pytest.raises(ValueError):
        parse_size("lots")
    with pytest.raises(TaskFailure):
        size_limit({"DOCKERFLOW_CACHE_SIZE": "lots"})


def test_key_ignores_per_attempt_builtins_only() -> None:
    base = {"session_time": "2024-03-05T00:00:00+00:00", "attempt_id": 1, "session_uuid": "u1",
            "x": 1}
    key = cache_key("host", "sh", {"_command": "make"}, base, [])
    assert key == cache_key("host", "sh", {"_command": "make"},
                            {**base, "attempt_id": 7, "session_uuid": "u2"}, [])
    assert key != cache_key("host", "sh", {"_command": "make"}, {**base, "x": 2}, [])
    assert key != cache_key("host", "sh", {"_command": "make -j"}, base, [])
    assert key != cache_key("sha256:1", "sh", {"_command": "make"}, base, [])
    assert key != cache_key("host", "sh", {"_command": "make"}, base, [["a", "-", "00"]])


def test_expand(tmp_path: Path) -> None:
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.py").write_text("a")
    (tmp_path / "src" / "sub" / "b.py").write_text("b")
    (tmp_path / "src" / "c.txt").write_text("c")
    (tmp_path / ".dockerflow" / "io").mkdir(parents=True)
    (tmp_path / ".dockerflow" / "io" / "x.py").write_text("x")
    assert expand(["src/**/*.py"], tmp_path, tmp_path, "inputs") == ["src/a.py", "src/sub/b.py"]
    assert expand(["src"], tmp_path, tmp_path, "inputs") == ["src/a.py", "src/c.txt",
                                                              "src/sub/b.py"]
    assert ".dockerflow/io/x.py" not in expand(["**"], tmp_path, tmp_path, "inputs")
    assert expand(["missing/*"], tmp_path, tmp_path, "inputs") == []
    assert expand(["../src/a.py"], tmp_path / "src", tmp_path, "inputs") == ["src/a.py"]
    with pytest.raises(TaskFailure, match="outside the project"):
        expand(["../*"], tmp_path, tmp_path / "src", "inputs")


# -- entries -----------------------------------------------------------------------------------
def test_save_restore_and_damage(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "out").mkdir(parents=True)
    (project / "out" / "r.txt").write_text("result")
    os.chmod(project / "out" / "r.txt", 0o750)
    cache = TaskCache(tmp_path / "cache", max_size=1 << 20)
    result = TaskResult(store={"n": 1}, export={"e": "x"})
    assert cache.save("k1", "+w+a", result, project, ["out/r.txt"])
    (project / "out" / "r.txt").unlink()
    restored = cache.restore("k1", project)
    assert restored is not None and restored.store == {"n": 1} and restored.export == {"e": "x"}
    assert (project / "out" / "r.txt").read_text() == "result"
    assert (project / "out" / "r.txt").stat().st_mode & 0o777 == 0o750
    assert cache.restore("other", project) is None
    (tmp_path / "cache" / "k1" / "files" / "out" / "r.txt").write_text("tampered")
    said: list[str] = []
    assert cache.restore("k1", project, said.append) is None
    assert said and not (tmp_path / "cache" / "k1").exists()


def test_eviction_keeps_recently_used_entries(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "f").write_bytes(b"x" * 1000)
    cache = TaskCache(tmp_path / "cache", max_size=10_000)
    for i, key in enumerate(("a", "b", "c")):
        cache.save(key, "+t", TaskResult(), project, ["f"])
        os.utime(tmp_path / "cache" / key / "manifest.json", (1000 + i, 1000 + i))
    cache.restore("a", project)  # used: now the newest
    entries = cache.entries()  # manifests differ by a byte or two (their save times)
    removed = cache.evict(sum(e.size for e in entries) - entries[0].size)
    assert [e.key for e in removed] == ["b"]
    assert sorted(e.key for e in cache.entries()) == ["a", "c"]
    assert not TaskCache(tmp_path / "c2", max_size=500).save("big", "+t", TaskResult(), project,
                                                             ["f"])
    assert TaskCache(tmp_path / "c2").entries() == []
    assert len(cache.clear()) == 2 and cache.entries() == []


# -- the SDK -----------------------------------------------------------------------------------
def test_sdk_round_trips_cache() -> None:
    wf = Workflow(name="w", tasks=[Group(
        name="g", cache=Cache(inputs=["src/**/*.py"], outputs=["out"]),
        tasks=[Sh(name="a", command="make"), Sh(name="b", command="x", cache=False),
               Sh(name="c", command="y", cache=Cache(outputs=("o.txt",)))])])
    text = to_dig(wf)
    assert "_cache:\n    inputs: [src/**/*.py]\n    outputs: [out]\n" in text
    assert parse_dig(text, "w") == wf
    root = _compile(text)
    assert root.children[0].export["_cache"] == {"inputs": ["src/**/*.py"],  # type: ignore[attr-defined]
                                                 "outputs": ["out"]}


def test_sdk_refuses_bad_cache() -> None:
    with pytest.raises(ValueError, match="relative"):
        Cache(inputs=["/abs"])
    with pytest.raises(ValueError):
        Sh(name="a", command="x", cache=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Cache(input=["a"])  # type: ignore[call-arg]


def test_workflow_level_cache() -> None:
    root = _compile("_cache: {outputs: [o]}\n+a: {sh>: make}\n")
    assert root.export["_cache"] == {"inputs": [], "outputs": ["o"]}  # type: ignore[attr-defined]
    wf = Workflow(name="w", cache=Cache(outputs=["o"]), tasks=[Sh(name="a", command="make")])
    text = to_dig(wf)
    assert text.startswith("_cache:\n  outputs: [o]\n")
    assert parse_dig(text, "w") == wf
