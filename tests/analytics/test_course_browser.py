"""The course pages in Debian chromium (Playwright): live update after an ingest, no
reload, event text drawn as text. Screenshots go to ``test-artifacts/`` (gitignored)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from collector.bench.course_traffic import COURSE, course_events
from collector.storage.engine import session
from collector.storage.sites import create_site
from tests.analytics.conftest import T0, answer
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
XSS = "<img src=x onerror=window.__xss=1>"


@pytest.fixture
def page(dashboard_page: Any) -> Any:
    return dashboard_page


def send(server: LiveServer, events: list[dict[str, Any]]) -> float:
    """Ingest over the WebSocket API in frames of 500; returns when the last ack came."""
    with connect(f"{server.ws_url}/v1/ws?key={server.key}", open_timeout=5) as ws:
        for i in range(0, len(events), 500):
            ws.send(json.dumps({"id": f"b{i}", "events": events[i:i + 500]}))
            ack = json.loads(ws.recv(timeout=30))
            assert ack["accepted"] == len(events[i:i + 500]), ack
    return time.monotonic()


def test_course_page_updates_live_and_screenshots(page: Any, live_server: LiveServer) -> None:
    send(live_server, list(course_events(60, lessons=6, items=12, start_ms=T0)))
    page.goto(live_server.url + "/dashboard/courses")
    page.wait_for_selector(f"#courses a:text('{COURSE}')")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-courses.png"), full_page=True)

    page.click(f"#courses a:text('{COURSE}')")
    page.wait_for_selector("#live-status.on", timeout=5000)
    page.wait_for_selector("#chart-lessons .bars")
    page.evaluate("window.__sameDocument = true")
    learners_before = int(page.inner_text("#stat-learners"))
    assert learners_before == 60
    acked = send(live_server, [answer(COURSE, "lesson-01", "item-new", "late-learner",
                                      T0 + 10**7, score=1, response=XSS)])
    page.wait_for_function(
        "document.querySelector('#stat-learners').textContent === '61' && "
        "document.querySelector('#items').textContent.includes('item-new')", timeout=1000)
    elapsed = time.monotonic() - acked
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert elapsed < 1.0
    assert XSS in page.inner_text("#items")  # shown as text
    assert page.evaluate("window.__xss === undefined")
    page.screenshot(path=str(ARTIFACTS / "dashboard-course.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.screenshot(path=str(ARTIFACTS / "dashboard-course-top.png"))


def test_demo_quiz_feeds_item_analysis(page: Any, live_server: LiveServer) -> None:
    """A retry after a wrong answer is an attempt, not a first attempt; the two-mark
    question gives partial credit."""
    with session(live_server.app) as s:
        create_site(s, "default", [])
        s.commit()
    page.goto(live_server.url + "/demo/fractions")
    page.click("button[data-choice='third']")  # wrong first
    page.click("button[data-choice='half']")  # the retry is right
    page.click("button[data-choice='two-quarters']")
    page.goto(live_server.url + "/demo/wrap-up")
    page.click("button[data-choice='size']")  # 1 of 2 marks
    page.click("button[data-choice='parts']")
    page.click("[data-complete-course]")
    page.wait_for_function("ck('state').accepted >= ck('state').made - "
                           "ck('state').duplicates && ck('state').queued === 0")
    page.goto(live_server.url + "/dashboard/course/demo-course")
    page.wait_for_function("document.querySelectorAll('#items tr').length === 3 && "
                           "document.querySelector('#stat-completed').textContent === '1'")
    rows = {r[0]: r for r in page.eval_on_selector_all(
        "#items tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")}
    assert rows["fractions-bigger"][1:5] == ["1", "2", "2.00", "0.00"]
    assert rows["fractions-bigger"][7].startswith("third: 1")
    assert rows["fractions-equal"][4] == "1.00"
    assert rows["final-denominator"][1:5] == ["1", "2", "2.00", "0.50"]
