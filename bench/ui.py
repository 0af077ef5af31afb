#!/usr/bin/env python3
"""The web UI's pages in headless Chromium: first paint of an attempt of 10,000 tasks, and of
the attempt lists over 100,000 attempts (first page, a deep page, a status filter).

    python bench/ui.py [--tasks 10000] [--attempts 100000] [--runs 5]

A real `dockerflow server` over SQLite; the attempts are written straight into the store
(tests/browser/ui_testing.py: no task runs). Each page is loaded --runs times in a fresh tab;
reported: the median and worst first-contentful-paint (performance.getEntriesByType('paint'),
from the start of the navigation), the server's answer (responseEnd) and the HTML's size.
Debian's chromium at /usr/bin/chromium, driven by Playwright.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "browser"))

from playwright.sync_api import Browser, sync_playwright  # noqa: E402
from ui_testing import UiServer, seed_attempts, seed_big_attempt  # noqa: E402

from dockerflow.store import open_store  # noqa: E402

MEASURE = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByType('paint').find(p => p.name === 'first-contentful-paint');
  return {fcp: paint ? paint.startTime : null, response: nav.responseEnd, bytes: nav.transferSize,
          dom: nav.domContentLoadedEventEnd};
}"""


def measure(browser: Browser, address: str, runs: int) -> dict[str, float]:
    fcps, responses, sizes = [], [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        tab = context.new_page()
        tab.goto(address, wait_until="load")
        tab.wait_for_function("performance.getEntriesByType('paint').length > 0")
        found = tab.evaluate(MEASURE)
        fcps.append(found["fcp"])
        responses.append(found["response"])
        sizes.append(found["bytes"])
        context.close()
    return {"fcp": statistics.median(fcps), "fcp_max": max(fcps), "response": statistics.median(responses),
            "kib": statistics.median(sizes) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockerflow-bench-ui-") as tmp:
        folder = Path(tmp)
        database = f"sqlite:///{folder / 'server.db'}"
        began = time.perf_counter()
        big = seed_big_attempt(database, folder / "big", tasks=args.tasks)
        seed_attempts(database, args.attempts)
        store = open_store(database)
        middle = store.attempts(page_size=args.attempts // 2)[-1].id
        store.close()
        print(f"seeded an attempt of {args.tasks:,} tasks and {args.attempts:,} attempts"
              f" in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        server = UiServer(database, folder)
        pages = {
            f"attempt of {args.tasks:,} tasks": f"/attempts/{big}",
            f"  same, all {args.tasks:,} rows": f"/attempts/{big}?rows={args.tasks + 2}",
            f"attempts list ({args.attempts:,})": "/attempts",
            "  a page in the middle": f"/attempts?last_id={middle}",
            "  status=killed": "/attempts?status=killed",
            "  status=killed, middle": f"/attempts?status=killed&last_id={middle}",
            "sessions list": "/sessions",
            "  status=error": "/sessions?status=error",
        }
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
                measure(browser, server.url + "/", 1)  # warm up the server and the browser
                print(f"{'page':34} {'first paint':>12} {'worst':>8} {'answer':>8} {'HTML':>9}")
                for label, path in pages.items():
                    m = measure(browser, server.url + path, args.runs)
                    print(f"{label:34} {m['fcp']:9.0f} ms {m['fcp_max']:5.0f} ms {m['response']:5.0f} ms"
                          f" {m['kib']:6.0f} KiB")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
