"""Every page of the UI loads in headless Chromium with no console error (one screenshot each
with DOCKERFLOW_SCREENSHOTS), reads in a 400 px window without horizontal overflow, is usable
from the keyboard (labelled fields, a skip link), shows times in the workflow's zone with UTC
on hover; the lists filter and page; unknown ids are 404 pages and bad parameters no 500."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from ui_testing import Console, Ui, shot


@pytest.fixture(scope="module")
def finished(ui: Ui) -> dict[str, str]:
    """A finished attempt of `hello` and of `fails`, for the pages to show."""
    hello = ui.server.start(ui.workflows["hello"], ui.session_time(), {"who": "pages"})
    fails = ui.server.start(ui.workflows["fails"], ui.session_time())
    ui.server.wait_done(hello)
    ui.server.wait_done(fails)
    return {"hello": hello, "fails": fails}


def paths(ui: Ui, finished: dict[str, str]) -> dict[str, str]:
    return {
        "projects": "/",
        "project": f"/projects/{ui.project_id}",
        "workflow": f"/workflows/{ui.workflows['hello']}",
        "sessions": "/sessions",
        "attempts": "/attempts",
        "attempt-success": f"/attempts/{finished['hello']}",
        "attempt-error": f"/attempts/{finished['fails']}",
        "log-page": f"/attempts/{finished['fails']}/log?task=%2Bfails%2Bbroken",
    }


def test_every_page_loads_with_no_console_error(ui: Ui, finished: dict[str, str], page: Page) -> None:
    for name, path in paths(ui, finished).items():
        response = page.goto(ui.url + path)
        assert response is not None and response.status == 200, path
        expect(page.locator("main h1")).to_be_visible()
        if name in ("projects", "project", "workflow", "sessions", "attempts"):
            shot(page, name)
    page.goto(f"{ui.url}/workflows/{ui.workflows['hello']}")
    graph = page.locator(".graph svg")
    expect(graph).to_be_visible()  # the task graph, drawn by Graphviz on the server
    expect(graph).to_contain_text("+work (parallel)")
    expect(graph).to_contain_text("^check")
    expect(page.locator("pre.dig .y-task").first).to_have_text("+greet")  # highlighted
    expect(page.locator("ol.runs li")).to_have_count(5)  # the schedule's next runs
    expect(page.locator("#start")).to_be_visible()


def test_the_pages_read_in_a_narrow_window(ui: Ui, finished: dict[str, str], browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 400, "height": 800})
    try:
        tab = context.new_page()
        for name, path in paths(ui, finished).items():
            tab.goto(ui.url + path)
            width = tab.evaluate("document.documentElement.scrollWidth")
            assert width <= 400, f"{path}: {width} px wide"
            if name == "attempt-success":
                shot(tab, "attempt-narrow")
    finally:
        context.close()


def test_the_pages_are_keyboard_usable(ui: Ui, finished: dict[str, str], page: Page) -> None:
    for path in paths(ui, finished).values():
        page.goto(ui.url + path)
        unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML)""")
        assert unlabelled == [], path
    page.goto(f"{ui.url}/workflows/{ui.workflows['hello']}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    # the start form by keyboard alone: type the fields, Tab to the button, Enter
    page.get_by_label("Session time").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type(ui.session_time())
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type('{"who": "keys"}')
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/attempts/\d+$"))
    expect(page.locator("pre.params")).to_contain_text("keys")


def test_times_are_in_the_workflows_zone_with_utc_on_hover(ui: Ui, finished: dict[str, str], page: Page) -> None:
    page.goto(f"{ui.url}/attempts/{finished['hello']}")
    stamp = page.locator("h1 time")
    expect(stamp).to_contain_text("JST")  # hello.dig: Asia/Tokyo
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", stamp.get_attribute("title") or "")
    page.goto(f"{ui.url}/attempts/{finished['fails']}")
    expect(page.locator("h1 time")).to_contain_text(re.compile("CES?T"))  # Europe/Paris


def test_the_lists_filter_and_page(ui: Ui, finished: dict[str, str], page: Page) -> None:
    page.goto(f"{ui.url}/attempts")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(50)
    first_ids = [int(x.strip("#")) for x in rows.locator("td:first-child a").all_inner_texts()]
    assert first_ids == sorted(first_ids, reverse=True)
    page.get_by_role("link", name="Older").click()
    expect(page.locator("table.list tbody tr").first).to_be_visible()
    older = [int(x.strip("#")) for x in rows.locator("td:first-child a").all_inner_texts()]
    assert older and max(older) < min(first_ids)
    page.get_by_role("link", name="Newest").click()
    expect(rows).to_have_count(50)

    page.get_by_label("Status").select_option("error")
    page.get_by_label("Project").select_option("demo")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=error"))
    expect(rows.first).to_be_visible()
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {"error"}
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"demo"}

    page.goto(f"{ui.url}/sessions?workflow=hello&project=demo")
    expect(rows.first).to_be_visible()
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"hello"}
    page.goto(f"{ui.url}/sessions?status=killed&project=big")
    assert set(rows.locator("td:nth-child(5)").all_inner_texts()) == {"killed"}


def test_unknown_ids_are_404_pages_and_bad_parameters_no_500(ui: Ui, page: Page, console: Console) -> None:
    console.allowed.append("404")
    for path in ("/attempts/999999", "/attempts/abc", "/projects/99999999999999999999999", "/workflows/-1",
                 "/attempts/1/log?task=%2Bnope"):
        response = page.goto(ui.url + path)
        assert response is not None and response.status == 404, path
        expect(page.locator("main h1")).to_have_text("Not found")
    for path in ("/attempts?last_id=abc&status=zzz&project=nobody", "/sessions?last_id=-5&status=",
                 "/?last_id=%00", f"/attempts/{ui.big_attempt}?rows=abc&show=%3Cscript%3E",
                 "/attempts?workflow=%3Cb%3Ex"):
        response = page.goto(ui.url + path)
        assert response is not None and response.status == 200, path
    expect(page.locator("input[name=workflow]")).to_have_value("<b>x")  # escaped, not markup


def test_the_project_page_shows_its_secret_keys_never_values(ui: Ui, page: Page) -> None:
    r = ui.server.http.put(f"/api/projects/{ui.project_id}/secrets/db.password", json={"value": "hunter2"})
    assert r.status_code == 200, r.text
    page.goto(f"{ui.url}/projects/{ui.project_id}")
    section = page.locator("section[aria-labelledby=h-secrets]")
    expect(section).to_contain_text("db.password")
    assert "hunter2" not in page.content()


def test_schedules_show_and_toggle(ui: Ui, page: Page) -> None:
    big = ui.server.http.get("/api/project", params={"name": "big"}).json()["id"]
    page.goto(f"{ui.url}/projects/{big}")
    section = page.locator("section[aria-labelledby=h-schedules]")
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("big")
    expect(rows.first).to_contain_text("2030-01-01")  # the next session, in the workflow's zone
    shot(page, "project-schedules")
    listed = ui.server.http.get(f"/api/projects/{big}/schedules")
    assert listed.status_code == 200, listed.text
    schedule_id = listed.json()["schedules"][0]["id"]
    rows.first.get_by_role("button", name="Disable").click()
    expect(rows.first.get_by_role("button", name="Enable")).to_be_visible()
    expect(rows.first.locator(".badge")).to_have_text("disabled")
    assert ui.server.http.get(f"/api/schedules/{schedule_id}").json()["disabledAt"] is not None
    rows.first.get_by_role("button", name="Enable").click()
    expect(rows.first.get_by_role("button", name="Disable")).to_be_visible()
    assert ui.server.http.get(f"/api/schedules/{schedule_id}").json()["disabledAt"] is None
