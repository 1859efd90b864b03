"""Documented tracker calls, each form as a lesson page on another origin would use it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Collector, LessonSite, tracker_page, wait_delivered
from tests.conftest import wait_for

pytestmark = pytest.mark.browser


def cdata(row: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["id"] for c in row["event"]["context"]["cdata"]}


def stored(collector: Collector, page: Any, n: int) -> list[dict[str, Any]]:
    did = wait_delivered(page)["did"]
    return list(wait_for(lambda: len(collector.events(did)) >= n and collector.events(did),
                         what=f"{n} events stored"))


def test_interaction_call_forms(collector: Collector, lessons: LessonSite, page: Any) -> None:
    calls = """
      ck('interaction', 'branch', 'path-block', {path: 'x'});
      ck('interaction', 'branch', {path: 'y'});
      ck('interaction', 'skip', undefined, {n: 1});
      ck('interaction', 'tap');
      ck('interaction', 'pick', 7, {n: 2});
      ck('push', {object: {id: 'video-3', type: 'Video'}});
      ck('interaction', 'play', {t: 3});
      ck('pop');
    """
    url = lessons.add("/calls/interaction.html", tracker_page(
        collector.url, collector.lesson_key, body=f"<script>{calls}</script>"))
    page.goto(url)
    rows = stored(collector, page, 7)
    got = [(r["event"]["edata"]["type"], r["event"]["edata"]["id"],
            r["event"]["edata"]["extra"]) for r in rows if r["eid"] == "INTERACT"]
    assert got == [
        ("branch", "path-block", {"path": "x"}),
        ("branch", "/calls/interaction.html", {"path": "y"}),  # no block id: the page
        ("skip", "/calls/interaction.html", {"n": 1}),
        ("tap", "/calls/interaction.html", {}),
        ("pick", "7", {"n": 2}),
        ("play", "video-3", {"t": 3}),  # no block id inside a pushed block: the block
    ]
    assert all(not r["warnings"] for r in rows)


def test_registered_version_holds_on_a_later_page(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    first = lessons.add("/calls/register.html", tracker_page(
        collector.url, collector.lesson_key, body="<script>ck('register', 'quiz.hint.opened',"
        " {description: 'Hint opened', fields: {check: 'the check'}, version: 2});</script>"))
    later = lessons.add("/calls/emit.html", tracker_page(
        collector.url, collector.lesson_key,
        body="<script>ck('emit', 'quiz.hint.opened', {check: 'q1'});</script>"))
    page.goto(first)
    wait_delivered(page)
    page.goto(later)
    rows = stored(collector, page, 4)
    (emitted,) = [r for r in rows if r["name"] == "quiz.hint.opened"]
    assert emitted["event"]["edata"]["version"] == 2
    assert not emitted["warnings"], emitted["warnings"]


def test_completed_lesson_is_the_one_the_call_names(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    calls = """
      ck('courseStarted', 'geometry'); ck('lessonStarted', 'angles');
      ck('lessonCompleted', 'angles-b'); ck('interact', {id: 'after'});
      ck('courseCompleted', 'geometry-2');
    """
    url = lessons.add("/calls/lessons.html", tracker_page(
        collector.url, collector.lesson_key, body=f"<script>{calls}</script>"))
    page.goto(url)
    rows = stored(collector, page, 6)
    (end,) = [r for r in rows if r["eid"] == "END" and r["edata_type"] == "lesson"]
    assert end["object_id"] == "angles-b"
    assert cdata(end)["Lesson"] == "angles-b" and end["lesson_id"] == "angles-b"
    (after,) = [r for r in rows if r["eid"] == "INTERACT"]
    assert cdata(after)["Lesson"] == "angles"  # the page's lesson is unchanged
    (course_end,) = [r for r in rows if r["eid"] == "END" and r["edata_type"] == "course"]
    assert course_end["object_id"] == "geometry-2" and cdata(course_end)["Course"] == "geometry-2"


def test_section_anchors_are_not_page_views(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    body = "<a id='jump' href='#section-2'>jump</a><p id='section-2'>section</p>"
    url = lessons.add("/calls/anchors.html", tracker_page(
        collector.url, collector.lesson_key, body=body))
    page.goto(url)
    wait_delivered(page)
    page.click("#jump")
    page.wait_for_function("location.hash === '#section-2'")
    page.evaluate("location.hash = '#/chapter-2'")
    page.wait_for_function("location.hash === '#/chapter-2'")
    page.evaluate("location.hash = '#!/chapter-3'")
    page.wait_for_function("location.hash === '#!/chapter-3'")
    rows = stored(collector, page, 3)
    views = [r["page_id"] for r in rows if r["eid"] == "IMPRESSION"]
    assert views == ["/calls/anchors.html", "/calls/anchors.html#/chapter-2",
                     "/calls/anchors.html#!/chapter-3"]


def test_state_before_the_tracker_loads(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    url = lessons.add("/calls/state.html", tracker_page(collector.url, "", script=False))
    page.goto(url)
    # the documented stub queues and answers nothing; ck.version says the tracker is in charge
    assert page.evaluate("ck('state') === undefined && ck.version === undefined")
    page.evaluate(f"""(() => {{ const s = document.createElement('script');
        s.src = '{collector.url}/tracker.js'; s.dataset.key = '{collector.lesson_key}';
        document.head.appendChild(s); }})()""")
    state = wait_delivered(page)
    assert state["version"] and state["made"] == 1  # the page view; the queued state() sent nothing
