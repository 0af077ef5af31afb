"""Check a JUnit report: valid against tests/data/junit.xsd, and counts that add up."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import xmlschema

SCHEMA = Path(__file__).parent / "data" / "junit.xsd"


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(SCHEMA)


def outcome(case: ET.Element) -> tuple[str, ET.Element | None]:
    for kind in ("failure", "error", "skipped"):
        el = case.find(kind)
        if el is not None:
            return kind, el
    return "passed", None


def check_report(source: Path | str) -> dict[str, tuple[str, ET.Element, ET.Element | None]]:
    """Validate a report (a path or its text); returns name -> (outcome, testcase, outcome
    element). Each task name appears once, and every count attribute is right."""
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    schema().validate(text)
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    out: dict[str, tuple[str, ET.Element, ET.Element | None]] = {}
    for case in cases:
        name = case.get("name")
        assert name and name not in out, f"testcase {name!r} twice"
        kind, el = outcome(case)
        out[name] = (kind, case, el)
    kinds = [k for k, _, _ in out.values()]
    for el in (root, suite):
        assert el.get("tests") == str(len(cases))
        assert el.get("failures") == str(kinds.count("failure"))
        assert el.get("errors") == str(kinds.count("error"))
        assert el.get("skipped") == str(kinds.count("skipped"))
    for attr in ("name", "time", "timestamp", "hostname"):
        assert suite.get(attr), attr
    return out
