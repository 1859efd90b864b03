"""Exactly once: every event a page made is stored once, none twice, through a collector
killed with SIGKILL and restarted, an offline browser, and a reload mid-batch.

"Made" is recorded in the page itself: an init script copies the mid of every event the
tracker writes to its persistent queue into ``localStorage['test:made']``, which survives
reloads and failed navigations. "Stored" is read from the database by device id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.resources import resource_dir
from collector.web.tracker_asset import BUILT_NAME
from tests.browser.conftest import (
    Collector,
    LessonSite,
    tracker_page,
    tracker_state,
    until,
    wait_delivered,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

RECORD_MADE = """
(() => {
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (k, v) {
    setItem.call(this, k, v);
    if (this !== window.localStorage || !k.startsWith('ck:q:')) return;
    const made = JSON.parse(this.getItem('test:made') || '{}');
    for (const e of JSON.parse(v).events) made[e.mid] = e.eid;
    setItem.call(this, 'test:made', JSON.stringify(made));
  };
})();
"""


@pytest.fixture
def fragile(tmp_path: Path, chromium: Any) -> Iterator[Collector]:
    """A collector of this test alone, which the test kills and restarts."""
    server = Collector(f"sqlite:///{tmp_path}/fragile.sqlite3", tmp_path / "instance").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def recording(context: Any) -> Any:
    context.add_init_script(RECORD_MADE)
    return context.new_page()


def made_mids(page: Any) -> dict[str, str]:
    return dict(json.loads(page.evaluate("localStorage.getItem('test:made') || '{}'")))


def assert_exactly_once(collector: Collector, page: Any) -> list[dict[str, Any]]:
    """Every event the page made is stored, once; nothing else is stored for the device."""
    state = wait_delivered(page, timeout=30)
    made = made_mids(page)
    assert made and len(made) == state["made"] or state["made"] < len(made)
    rows = wait_for(lambda: len(collector.events(state["did"])) >= len(made)
                    and collector.events(state["did"]), timeout=15, what="all events stored")
    stored = Counter(r["mid"] for r in rows)
    assert set(stored) == set(made), {"lost": set(made) - set(stored),
                                      "unexpected": set(stored) - set(made)}
    assert max(stored.values()) == 1
    resent = collector.query(
        "SELECT transport, count(*) AS n FROM duplicate_receipts WHERE mid IN "
        "(SELECT mid FROM events WHERE did = :did) GROUP BY transport", did=state["did"])
    # Reported with `pytest -s`: the README quotes these figures.
    print(f"\ndelivery: {len(made)} made, {len(stored)} stored once, resent and deduplicated:"
          f" {({r['transport']: r['n'] for r in resent})}")
    return rows


def kinds(rows: list[dict[str, Any]]) -> Counter[tuple[str, str | None]]:
    return Counter((r["eid"], r["name"] if r["eid"] == "EXDATA" else r["edata_type"])
                   for r in rows)


def answer(page: Any, *choices: str) -> None:
    for choice in choices:
        page.click(f"button[data-choice='{choice}']")


def test_demo_click_through_with_the_collector_killed_and_restarted(
        fragile: Collector, recording: Any) -> None:
    page = recording
    page.goto(fragile.url + "/demo/fractions")
    wait_delivered(page)

    fragile.kill()  # SIGKILL: no goodbye, frames in flight are lost
    answer(page, "half")
    page.click("button.hint")
    answer(page, "two-quarters")
    until(page, "s.made >= 7 && !s.connected")
    assert tracker_state(page)["queued"] >= 1
    page.click("[data-nav=next]")  # the collector serves the next page: it fails to load
    page.wait_for_load_state()

    fragile.restart()
    page.goto(fragile.url + "/demo/paths")  # the learner retries; old batches go first
    page.click("button[data-path='pizza']")
    wait_delivered(page)
    fragile.kill()  # again, while the page stays open: the socket reconnects
    answer(page, "quarter")
    until(page, "s.queued >= 1 && !s.connected")
    fragile.restart()
    wait_delivered(page, timeout=30)
    page.click("[data-nav=next]")
    page.wait_for_url("**/demo/wrap-up")
    answer(page, "parts", "three-quarters")
    page.click("[data-complete-course]")

    rows = assert_exactly_once(fragile, page)
    assert kinds(rows) == Counter({
        ("IMPRESSION", "view"): 3, ("START", "course"): 1, ("START", "lesson"): 3,
        ("ASSESS", None): 5, ("END", "assessment"): 3, ("END", "lesson"): 3,
        ("END", "course"): 1, ("INTERACT", "NAVIGATE"): 2, ("INTERACT", "CLICK"): 1,
        ("INTERACT", "branch"): 1, ("EXDATA", "collector.register"): 3,
        ("EXDATA", "demo.hint.shown"): 1})
    assert all(r["duplicate_of"] is None for r in rows)

    # The demo course leaves as valid xAPI: export what this run stored and validate it.
    from collections import Counter as Tally

    from collector.outbound.export import ExportFilter, iter_xapi
    from tests.mapping.validators import assert_valid_xapi

    assert fragile.engine is not None
    skipped: Tally[str] = Tally()
    statements = [json.loads(s) for s in iter_xapi(fragile.engine, ExportFilter(),
                                                    "http://127.0.0.1", skipped)]
    verbs = Tally(s["verb"]["id"].rsplit("/", 1)[1] for s in statements)
    assert verbs == Tally({"initialized": 4, "answered": 5, "completed": 7, "viewed": 3,
                          "experienced": 4}), (verbs, skipped)
    assert_valid_xapi(statements)


def test_demo_offline_then_online(collector: Collector, context: Any, recording: Any) -> None:
    page = recording
    page.goto(collector.url + "/demo/fractions")
    wait_delivered(page)
    context.set_offline(True)
    answer(page, "third", "two-quarters")
    page.click("button.hint")
    until(page, "s.made >= 7")
    state = tracker_state(page)
    assert state["queued"] >= 1 and not state["connected"]
    context.set_offline(False)
    rows = assert_exactly_once(collector, page)
    assert kinds(rows)[("ASSESS", None)] == 2 and kinds(rows)[("END", "assessment")] == 1


def test_reload_mid_batch(collector: Collector, recording: Any) -> None:
    page = recording
    page.goto(collector.url + "/demo/paths")
    wait_delivered(page)
    # The batch is still open (sealed 250 ms later) when the page goes away.
    page.evaluate("ck('interaction', 'branch', 'fraction-path', {path: 'music'});"
                  "ck('emit', 'demo.reload.test', {n: 1}); location.reload()")
    page.wait_for_load_state()
    rows = assert_exactly_once(collector, page)
    assert kinds(rows)[("INTERACT", "branch")] == 1
    assert kinds(rows)[("EXDATA", "demo.reload.test")] == 1
    assert kinds(rows)[("IMPRESSION", "view")] == 2


def test_unacked_course_start_is_retried_from_the_queue_not_repeated(
        fragile: Collector, lessons: LessonSite, recording: Any) -> None:
    page = recording
    key = fragile.add_site("lessons-fragile", lessons.origin)
    # The lesson site hosts its own copy of the tracker (data-endpoint names the
    # collector), so its pages work while the collector is down.
    lessons.add("/js/tracker.js", (resource_dir("static") / BUILT_NAME).read_text())
    url = lessons.add("/fragile-course.html", tracker_page(
        fragile.url, key, src=lessons.origin + "/js/tracker.js",
        attrs=f'data-endpoint="{fragile.url}"',
        body="<script>ck('courseStarted', 'physics');</script>"))
    fragile.kill()
    page.goto(url)  # the lesson site is up, the collector is not
    until(page, "s.made === 2")
    sid = tracker_state(page)["sid"]
    page.reload()
    until(page, "s.made === 1")  # the page view only: no new START
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('ck:cs:'))") \
        == [f"ck:cs:boot:{sid}:physics"]
    fragile.restart()
    rows = assert_exactly_once(fragile, page)
    assert kinds(rows) == Counter({("START", "course"): 1, ("IMPRESSION", "view"): 2})
    # the ack reached the same tab session (a later page of it): the delivered mark is set
    assert page.evaluate(f"sessionStorage.getItem('ck:cs:sent:{sid}:physics')") == "1"


def test_rate_limited_frames_are_resent_later(
        tmp_path: Path, lessons: LessonSite, recording: Any) -> None:
    limited = Collector(f"sqlite:///{tmp_path}/limited.sqlite3", tmp_path / "instance",
                        env={"COLLECTOR_RATE_LIMIT": "20"}).start()
    try:
        key = limited.add_site("lessons-limited", lessons.origin)
        url = lessons.add("/limited.html", tracker_page(limited.url, key))
        page = recording
        refusals: list[str] = []
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda f: refusals.append(f) if "rate limit" in str(f) else None))
        page.goto(url)
        wait_delivered(page)
        # 80 events in 8 frames at once: 4x the per-second allowance, so frames get the
        # "rate limit exceeded ... retry later" error frame and must be resent, not lost.
        page.evaluate("for (let i = 0; i < 80; i++) { ck('interact', {id: 'burst-' + i});"
                      " if (i % 10 === 9) ck('flush'); }")
        rows = assert_exactly_once(limited, page)
        assert kinds(rows)[("INTERACT", "CLICK")] == 80
        assert refusals, "the collector never refused a frame: the test proves nothing"
    finally:
        limited.stop()


def test_full_queue_drops_the_oldest_and_reports_it(
        collector: Collector, lessons: LessonSite, context: Any) -> None:
    page = context.new_page()
    url = lessons.add("/bounded.html", tracker_page(collector.url, collector.lesson_key,
                                                    attrs='data-max-queued="3"'))
    page.goto(url)
    did = wait_delivered(page)["did"]
    context.set_offline(True)
    for n in range(5):
        page.evaluate(f"ck('interact', {{id: 'n{n}'}}); ck('flush')")
    state = tracker_state(page)
    assert state["queued"] == 3 and state["dropped"] == 2
    context.set_offline(False)
    wait_delivered(page)
    rows = wait_for(lambda: len(collector.events(did)) == 5 and collector.events(did),
                    what="page view, 3 interacts and the drop report stored")
    assert sorted(r["event"]["edata"]["id"] for r in rows if r["eid"] == "INTERACT") == [
        "n2", "n3", "n4"]
    (report,) = [r for r in rows if r["eid"] == "LOG"]
    assert report["event"]["edata"]["params"] == [{"dropped": 2}]
