"""Several tabs of one origin: every event stored exactly once.

The tabs of a browser share the origin's localStorage, where tracker.js keeps its queue.
Each page owns its batches and adopts those of pages that are gone, so here the tabs click
at the same time, one is closed or crashes in the middle of a batch, one reloads, and the
collector is killed with SIGKILL and restarted; every event reaches the database once.

"Made" is recorded in the pages: an init script copies the mid of every event a page
writes to the tracker's queue into its own localStorage key (``test:made:<page>``), so
no two pages write the same key and the record survives a closed or crashed tab.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Collector, LessonSite, tracker_page
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

RECORD_MADE = """
(() => {
  const me = 'test:made:' + Math.random().toString(36).slice(2);
  const made = {};
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (k, v) {
    setItem.call(this, k, v);
    if (this !== window.localStorage || !k.startsWith('ck:q:')) return;
    let more = false;
    for (const e of JSON.parse(v).events) {
      if (!(e.mid in made)) more = made[e.mid] = e.eid;
    }
    if (more) setItem.call(this, me, JSON.stringify(made));
  };
})();
"""

NO_WEB_LOCKS = "Object.defineProperty(Navigator.prototype, 'locks', {get: () => undefined});"

# Clicks on a tagged button, one every `every` ms, each with its own telemetry id
# (`<tab>-<n>`), so a lost or doubled click is visible in the stored events.
CLICKER = """<button id="go">go</button><script>
window.clicks = (tab, from, n, every) => {
  window.clicking = true;
  const b = document.getElementById('go');
  let i = from;
  const step = () => {
    b.setAttribute('data-telemetry-id', tab + '-' + i);
    b.click();
    if (++i < from + n) setTimeout(step, every); else window.clicking = false;
  };
  step();
};
</script>"""


@pytest.fixture(params=["web-locks", "lease"])
def tabs(request: pytest.FixtureRequest, context: Any) -> Any:
    """A browser context whose pages record what they made; with or without Web Locks."""
    context.add_init_script(RECORD_MADE)
    if request.param == "lease":
        context.add_init_script(NO_WEB_LOCKS)
    return context


@pytest.fixture
def fragile(tmp_path: Path, chromium: Any) -> Iterator[Collector]:
    """A collector of this test alone, which the test kills and restarts."""
    server = Collector(f"sqlite:///{tmp_path}/multi-tab.sqlite3", tmp_path / "instance").start()
    try:
        yield server
    finally:
        server.stop()


def lesson(collector: Collector, lessons: LessonSite, key: str, name: str) -> str:
    return lessons.add(f"/multi/{name}.html", tracker_page(
        collector.url, key, body=CLICKER + "<script>ck('courseStarted', 'multi');</script>"))


def open_tabs(context: Any, url: str, n: int) -> list[Any]:
    pages = []
    for _ in range(n):
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("window.ck && ck.version && ck('state').did")
        pages.append(page)
    return pages


def click(page: Any, tab: str, n: int, start: int = 0, every: int = 2) -> None:
    """Start clicking in the page and return at once (the tabs click at the same time)."""
    page.evaluate(f"clicks({json.dumps(tab)}, {start}, {n}, {every})")


def done_clicking(*pages: Any) -> None:
    for page in pages:
        page.wait_for_function("window.clicking === false", timeout=30_000)


def made_in(page: Any) -> dict[str, str]:
    """Every event any page of the origin made (mid -> eid)."""
    made: dict[str, str] = {}
    for raw in page.evaluate(
            "Object.keys(localStorage).filter(k => k.startsWith('test:made:'))"
            ".map(k => localStorage.getItem(k))"):
        made.update(json.loads(raw))
    return made


def assert_exactly_once(collector: Collector, page: Any,
                        clicks: dict[str, int]) -> list[dict[str, Any]]:
    """Wait until the origin's queue is empty and everything made is stored; check it all
    arrived once. ``clicks``: tab -> clicks it finished (all of them must be stored)."""
    did = page.evaluate("ck('state').did")

    def settled() -> Any:
        left = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ck:q:'))")
        made = made_in(page)
        rows = collector.events(did)
        return not left and len(rows) >= len(made) and (made, rows)

    try:
        made, rows = wait_for(settled, timeout=60, what="every tab's queue delivered")
    except AssertionError as timeout:
        raise AssertionError(diagnose(collector, page, did)) from timeout
    stored = Counter(r["mid"] for r in rows)
    assert set(stored) == set(made), {"lost": set(made) - set(stored),
                                      "unexpected": set(stored) - set(made)}
    assert max(stored.values()) == 1
    ids = Counter(r["event"]["edata"]["id"] for r in rows if r["eid"] == "INTERACT")
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]  # no click twice
    for tab, n in clicks.items():
        missing = [f"{tab}-{i}" for i in range(n) if f"{tab}-{i}" not in ids]
        assert not missing, missing
    starts = [r for r in rows if r["eid"] == "START"]
    assert all(r["course_id"] == "multi" for r in starts)
    return rows


def diagnose(collector: Collector, page: Any, did: str) -> dict[str, Any]:
    """What is left when delivery did not finish: queued batches, the pages, lost mids."""
    made = made_in(page)
    stored = {r["mid"] for r in collector.events(did)}
    left = page.evaluate(
        "Object.keys(localStorage).filter(k => k.startsWith('ck:q:') || k.startsWith('ck:l:'))"
        ".map(k => [k, k.startsWith('ck:q:') ? JSON.parse(localStorage.getItem(k)).events"
        ".map(e => e.mid) : localStorage.getItem(k)])")
    pages = [p.evaluate("ck('state')") for p in page.context.pages if not p.is_closed()]
    return {"lost": sorted(set(made) - stored), "queued": left, "pages": pages}


@pytest.mark.parametrize("n", [2, 3])
def test_tabs_clicking_at_once(collector: Collector, lessons: LessonSite, tabs: Any,
                               n: int) -> None:
    url = lesson(collector, lessons, collector.lesson_key, f"at-once-{n}")
    pages = open_tabs(tabs, url, n)
    for i, page in enumerate(pages):
        click(page, f"t{i}", 120)
    done_clicking(*pages)
    rows = assert_exactly_once(collector, pages[0], {f"t{i}": 120 for i in range(n)})
    assert Counter(r["eid"] for r in rows)["IMPRESSION"] == n
    # course_started marks are per tab session: each tab started the course once
    assert Counter(r["eid"] for r in rows)["START"] == n


def test_collector_killed_and_restarted_while_tabs_click(
        fragile: Collector, lessons: LessonSite, tabs: Any) -> None:
    key = fragile.add_site("lessons-multi-tab", lessons.origin)
    url = lesson(fragile, lessons, key, "killed")
    a, b = open_tabs(tabs, url, 2)
    click(a, "a", 150, every=3)
    click(b, "b", 150, every=3)
    a.wait_for_function("ck('state').accepted > 20")
    fragile.kill()  # SIGKILL: frames in flight are never answered
    done_clicking(a, b)
    for page in (a, b):
        page.wait_for_function("!ck('state').connected")
    click(a, "a", 30, start=150)  # more while the collector is down
    done_clicking(a)
    fragile.restart()
    assert_exactly_once(fragile, a, {"a": 180, "b": 150})


def test_tab_closed_in_the_middle_of_a_batch(
        collector: Collector, lessons: LessonSite, tabs: Any) -> None:
    url = lesson(collector, lessons, collector.lesson_key, "closed")
    stays, leaves = open_tabs(tabs, url, 2)
    # the leaving tab cannot beacon: only the tab that stays can deliver its batch
    leaves.evaluate("navigator.sendBeacon = () => false")
    click(stays, "stays", 100)
    click(leaves, "leaves", 40, every=1)
    done_clicking(leaves)
    leaves.evaluate("ck('interaction', 'last', 'open-batch', {n: 1})")  # batch still open
    assert leaves.evaluate("ck('state').queued") >= 1
    leaves.close()
    done_clicking(stays)
    rows = assert_exactly_once(collector, stays, {"stays": 100, "leaves": 40})
    assert [r["event"]["edata"]["type"] for r in rows
            if r["eid"] == "INTERACT" and r["event"]["edata"]["id"] == "open-batch"] == ["last"]


def test_tab_crashed_in_the_middle_of_a_batch(
        collector: Collector, lessons: LessonSite, context: Any) -> None:
    context.add_init_script(RECORD_MADE)
    url = lesson(collector, lessons, collector.lesson_key, "crashed")
    stays, crashes = open_tabs(context, url, 2)
    cdp = context.new_cdp_session(crashes)
    click(stays, "stays", 100)
    click(crashes, "crashes", 40, every=1)
    done_clicking(crashes)
    crashes.evaluate("ck('interaction', 'last', 'open-batch', {n: 1})")  # batch still open
    assert crashes.evaluate("ck('state').queued") >= 1
    crashed: list[Any] = []
    crashes.on("crash", lambda p: crashed.append(p))
    try:  # no pagehide, no beacon: the renderer is gone, and never answers the command
        cdp.send("Page.crash", timeout=500)
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError or a closed session
        pass
    wait_for(lambda: crashed, what="the tab's renderer crashed")
    done_clicking(stays)
    rows = assert_exactly_once(collector, stays, {"stays": 100, "crashes": 40})
    assert [r["event"]["edata"]["type"] for r in rows
            if r["eid"] == "INTERACT" and r["event"]["edata"]["id"] == "open-batch"] == ["last"]


def test_reload_while_another_tab_clicks(
        collector: Collector, lessons: LessonSite, tabs: Any) -> None:
    url = lesson(collector, lessons, collector.lesson_key, "reload")
    a, b = open_tabs(tabs, url, 2)
    click(b, "b", 120)
    click(a, "a", 40, every=1)
    done_clicking(a)
    a.evaluate("ck('interaction', 'last', 'before-reload', {n: 1}); location.reload()")
    a.wait_for_function("window.ck && ck.version && ck('state').did")
    click(a, "a", 40, start=40, every=1)
    done_clicking(a, b)
    rows = assert_exactly_once(collector, a, {"a": 80, "b": 120})
    assert Counter(r["eid"] for r in rows)["IMPRESSION"] == 3
    assert Counter(r["eid"] for r in rows)["START"] == 2  # the reload starts nothing again
