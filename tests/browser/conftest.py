"""Fixtures of the browser tests: one real `dockerflow server` (SQLite) with a pushed project
and a seeded attempt of 10,000 tasks, headless Chromium (Debian's, /usr/bin/chromium) driven by
Playwright, and a page per test that fails the test on any console error.

DOCKERFLOW_SCREENSHOTS=FOLDER makes `shot()` save PNGs there (make screenshots).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from ui_testing import UiServer, seed_attempts, seed_big_attempt

CHROMIUM = "/usr/bin/chromium"
SHOTS = os.environ.get("DOCKERFLOW_SCREENSHOTS")

FILES = {
    "hello.dig": """\
# the workflow the UI starts
timezone: Asia/Tokyo
schedule:
  daily>: 07:00:00
_export:
  greeting: hello
+greet:
  sh>: echo "${greeting} ${who}"  # who: a param given at the start
+work:
  _parallel: true
  +left:
    sh>: sleep 1 && echo left
  +right:
    sh>: sleep 1.5 && echo right
+report:
  sh>: echo done at ${session_time}
  _check:
    sh>: echo checked
""",
    "fails.dig": """\
timezone: Europe/Paris
+prepare:
  sh>: echo preparing
+broken:
  sh>: echo about to fail && exit 3
_error:
  sh>: echo cleaning up
""",
    "sleepy.dig": """\
+nap:
  sh>: sleep 60
""",
    "chatty.dig": """\
+talk:
  sh>: for i in $(seq 1 30); do echo "line $i"; sleep 0.2; done
""",
}


@dataclass
class Ui:
    server: UiServer
    url: str
    project_id: str
    workflows: dict[str, str]
    big_attempt: int
    folder: Path
    sessions: list[int] = field(default_factory=lambda: [0])

    def session_time(self) -> str:
        """A session time no other test used (each start needs its own session)."""
        self.sessions[0] += 1
        return f"2024-05-{self.sessions[0]:02d}T00:00:00+09:00"


@pytest.fixture(scope="session")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    folder = tmp_path_factory.mktemp("ui")
    database = f"sqlite:///{folder / 'server.db'}"
    big = seed_big_attempt(database, folder / "big")
    seed_attempts(database, 70)  # more than a page of the lists
    server = UiServer(database, folder)
    try:
        project = server.push(folder / "demo", "demo", "r1", FILES)
        workflows = {name[:-4]: server.workflow_id(project["id"], name[:-4]) for name in FILES}
        yield Ui(server, server.url, project["id"], workflows, big, folder)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-tools (installs Debian's chromium)")
    with sync_playwright() as playwright:
        yield _launch(playwright)


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True)


class Console:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: list[str] = []  # substrings of errors a test expects (a 404 page)

    def check(self) -> None:
        bad = [e for e in self.errors if not any(a in e for a in self.allowed)]
        assert bad == [], f"console errors: {bad}"


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.on("console", lambda m: console.errors.append(f"{m.text} ({tab.url})") if m.type == "error" else None)
    tab.on("pageerror", lambda e: console.errors.append(f"page error {e} ({tab.url})"))
    yield tab
    context.close()
    console.check()


def shot(page: Page, name: str) -> None:
    """A PNG of the page's viewport (1280x800) into $DOCKERFLOW_SCREENSHOTS, when set."""
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    tmp = folder / f".{name}.tmp.png"
    page.screenshot(path=str(tmp))
    shutil.move(tmp, target)
