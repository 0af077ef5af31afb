"""Fixtures of the browser tests: one real `dockerflow server` (SQLite) with a pushed project
and a seeded attempt of 10,000 tasks, headless Chromium (Debian's, /usr/bin/chromium) driven by
Playwright, and a page per test that fails the test on any console error.

DOCKERFLOW_SCREENSHOTS=FOLDER makes `shot()` save PNGs there (make screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from ui_testing import Console, Ui, UiServer, seed_attempts, seed_big_attempt

CHROMIUM = "/usr/bin/chromium"

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
