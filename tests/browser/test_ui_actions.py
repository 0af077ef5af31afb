"""The UI in use, in headless Chromium against a real server: a workflow started from the UI
runs and its tasks turn green without a reload, a failed task's error and log are one click
from the list, kill and retry (failed, from a task), a task's log followed live, and the page
of an attempt of 10,000 tasks."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from ui_testing import Ui, shot

NO_RELOAD = "window.__stillThisPage = true"
STILL = "window.__stillThisPage === true"


def another_attempt(address: str, than: str) -> bool:
    found = re.search(r"/attempts/(\d+)$", address)
    return found is not None and found.group(1) != than


def summary_badge(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#summary .status-line .badge").first


def test_a_workflow_started_from_the_ui_runs_and_its_tasks_turn_green_live(ui: Ui, page: Page) -> None:
    page.goto(f"{ui.url}/workflows/{ui.workflows['hello']}")
    page.get_by_label("Session time").fill(ui.session_time())
    page.get_by_label("Params").fill('{"who": "browser"}')
    page.get_by_role("button", name="Start an attempt").click()
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    page.evaluate(NO_RELOAD)
    assert page.evaluate("document.body.dataset.live") == "1"  # it was running when the page came
    rows = page.locator("table.tasks tbody tr")
    expect(summary_badge(page)).to_have_text("success", timeout=30_000)
    expect(rows).to_have_count(7)  # root, greet, work, left, right, report, its ^check
    expect(page.locator("table.tasks tbody tr .badge.s-success")).to_have_count(rows.count())
    assert page.evaluate(STILL), "the page reloaded"
    assert page.evaluate("document.body.dataset.live") == "0"  # polling stopped
    expect(page.locator("pre.params")).to_contain_text('"who": "browser"')
    shot(page, "attempt")

    page.locator("table.tasks").get_by_role("row").filter(has_text="+greet").get_by_role("link", name="log").click()
    expect(page.locator("#log")).to_contain_text("hello browser")


def test_a_failed_tasks_error_and_log_are_one_click_away(ui: Ui, page: Page, tmp_path: Path) -> None:
    attempt = ui.server.start(ui.workflows["fails"], ui.session_time())
    assert ui.server.wait_done(attempt)["status"] == "error"
    page.goto(f"{ui.url}/attempts?status=error&workflow=fails")
    page.get_by_role("link", name=f"#{attempt}", exact=True).click()
    errors = page.locator("#errors")
    expect(errors).to_contain_text("+fails+broken")
    expect(errors).to_contain_text("Command failed with code 3")
    shot(page, "attempt-failed")
    errors.get_by_role("link", name="Log").first.click()
    expect(page.locator("#log")).to_contain_text("about to fail")
    shot(page, "log")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert "about to fail" in Path(download.value.path()).read_text()


def test_kill_from_the_ui(ui: Ui, page: Page) -> None:
    attempt = ui.server.start(ui.workflows["sleepy"], ui.session_time())
    ui.server.wait_task(attempt, "+sleepy+nap", "running")
    page.goto(f"{ui.url}/attempts/{attempt}")
    page.evaluate(NO_RELOAD)
    expect(summary_badge(page)).to_have_text("running")
    page.get_by_role("button", name="Kill").click()
    expect(summary_badge(page)).to_have_text("killed", timeout=30_000)
    assert page.evaluate(STILL)
    assert ui.server.wait_done(attempt)["status"] == "killed"
    expect(page.get_by_role("button", name="Kill")).to_have_count(0)


def test_retry_failed_and_retry_from_a_task_from_the_ui(ui: Ui, page: Page) -> None:
    first = ui.server.start(ui.workflows["fails"], ui.session_time())
    ui.server.wait_done(first)
    page.goto(f"{ui.url}/attempts/{first}")
    page.get_by_role("button", name="Retry failed").click()
    page.wait_for_url(lambda u: another_attempt(u, first))
    second = page.url.rsplit("/", 1)[1]
    assert second != first
    expect(summary_badge(page)).to_have_text("error", timeout=30_000)
    body = ui.server.http.get(f"/api/attempts/{second}").json()
    assert body["sessionId"] == ui.server.http.get(f"/api/attempts/{first}").json()["sessionId"]
    assert body["retryAttemptName"]

    page.get_by_label("Retry from task").fill("+fails+broken")
    page.get_by_role("button", name="Retry from").click()
    page.wait_for_url(lambda u: another_attempt(u, second))
    expect(summary_badge(page)).to_have_text("error", timeout=30_000)
    third = page.url.rsplit("/", 1)[1]
    tasks = {t["fullName"]: t for t in ui.server.http.get(f"/api/attempts/{third}/tasks").json()["tasks"]}
    assert tasks["+fails+broken"]["state"] == "error"
    expect(page.locator("dl.kv")).to_contain_text("#3")  # the session's third attempt


def test_a_tasks_log_follows_live(ui: Ui, page: Page) -> None:
    attempt = ui.server.start(ui.workflows["chatty"], ui.session_time())
    ui.server.wait_task(attempt, "+chatty+talk", "running")
    page.goto(f"{ui.url}/attempts/{attempt}/log?task=%2Bchatty%2Btalk")
    page.evaluate(NO_RELOAD)
    log = page.locator("#log")
    assert "line 30" not in log.inner_text()
    expect(page.locator("#follow")).to_have_text("following…")
    expect(log).to_contain_text("line 12", timeout=20_000)
    expect(log).to_contain_text("line 30", timeout=20_000)
    expect(page.locator("#follow")).to_have_text("")
    assert page.evaluate(STILL)
    lines = [line for line in log.inner_text().splitlines() if line.startswith("line ")]
    assert lines == [f"line {i}" for i in range(1, 31)]  # each once, in order
    expect(page.locator("#log-state .badge")).to_have_text("success")


def test_the_page_of_an_attempt_of_10000_tasks(ui: Ui, page: Page) -> None:
    page.goto(f"{ui.url}/attempts/{ui.big_attempt}")
    expect(page.locator("#tasks .more")).to_contain_text("Showing 300 of 10,002 tasks")
    expect(page.locator("#errors li")).to_have_count(3)
    page.evaluate("document.getElementById('tasks').scrollIntoView()")
    shot(page, "attempt-10k")
    page.locator("#tasks").get_by_role("link", name="Show more").click()
    expect(page.locator("#tasks .more")).to_contain_text("Showing 1,300 of 10,002 tasks")
    page.get_by_label("Show").select_option("problems")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.tasks tbody tr")).to_have_count(5)  # 3 tasks and their 2 groups
