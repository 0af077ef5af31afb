"""`dockerflow graph`: the text tree, DOT that Graphviz accepts, SVG and PNG pictures."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

CLI = [sys.executable, "-m", "dockerflow"]

WORKFLOW = """\
+prepare:
  sh>: echo prepare
+fan:
  _parallel: {limit: 2}
  +a: {sh>: echo a}
  +b: {sh>: echo b}
  +c: {sh>: echo c}
+each:
  for_each>: {x: [1, 2, 3]}
  _do:
    echo>: ${x}
+side:
  _background: true
  echo>: beside
+last:
  echo>: done
  _check:
    echo>: checked
_error:
  echo>: failed
"""


def graph(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "wf.dig").write_text(WORKFLOW)
    return subprocess.run(CLI + ["graph", "wf.dig", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def test_text_tree(tmp_path: Path) -> None:
    r = graph(tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "+wf  (sequence)"
    assert "  +wf+fan  (parallel limit 2)" in lines
    assert "  +wf+each  (for_each>; generates 4 tasks)" in lines
    assert "  +wf+side  (echo>; background)" in lines
    assert "    check: +wf+last^check  (echo>)" in lines
    assert lines[-1] == "  on error: +wf^error  (echo>)"


def test_dot_is_accepted_by_graphviz_and_has_the_dependencies(tmp_path: Path) -> None:
    r = graph(tmp_path, "-o", "wf.dot")
    assert r.returncode == 0, r.stderr
    dot = (tmp_path / "wf.dot").read_text()
    canon = subprocess.run(["dot", "-Tcanon"], input=dot, capture_output=True, text=True)
    assert canon.returncode == 0, canon.stderr
    assert dot.count("subgraph cluster_") == 2  # the workflow and the parallel group
    names = {label.split("\\n")[0] for label in _labels(dot)}
    assert {"+prepare", "+a", "+b", "+c", "+each", "+side", "+last", "^check", "^error"} <= names
    # +c (second chunk of limit 2) waits for both +a and +b
    ids = _ids(dot)
    assert f"{ids['+a']} -> {ids['+c']}" in dot and f"{ids['+b']} -> {ids['+c']}" in dot
    assert f"{ids['+a']} -> {ids['+b']}" not in dot
    assert "on error" in dot and "check" in dot


def test_svg_and_png(tmp_path: Path) -> None:
    r = graph(tmp_path, "-o", "wf.svg")
    assert r.returncode == 0, r.stderr
    root = ET.parse(tmp_path / "wf.svg").getroot()
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert "+prepare" in texts and "for_each>" in texts
    r = graph(tmp_path, "-o", "wf.png")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "wf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_format_and_bad_workflow_are_refused(tmp_path: Path) -> None:
    r = graph(tmp_path, "-o", "wf.jpeg")
    assert r.returncode == 2 and "unknown picture format .jpeg" in r.stderr
    (tmp_path / "bad.dig").write_text("+a:\n  sh>: x\n  echo>: y\n")
    r = subprocess.run(CLI + ["graph", "bad.dig"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and "bad.dig:3" in r.stderr and "Traceback" not in r.stderr


def _labels(dot: str) -> list[str]:
    import re
    return re.findall(r'label="([^"]*)"', dot)


def _ids(dot: str) -> dict[str, str]:
    import re
    return {m.group(2).split("\\n")[0]: m.group(1)
            for m in re.finditer(r'(n\d+) \[label="([^"]+)"', dot)}
