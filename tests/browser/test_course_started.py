"""course_started de-duplication: session marks in the tab, the server's chain as the
authority (course_started de-duplication by session mark)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.browser.conftest import (
    Collector,
    LessonSite,
    tracker_page,
    tracker_state,
    wait_delivered,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

LESSON = "<script>ck('courseStarted', 'algebra'); ck('lessonStarted', '{lesson}');</script>"


def course_starts(collector: Collector, did: str) -> list[dict[str, Any]]:
    return [r for r in collector.events(did) if r["eid"] == "START" and r["edata_type"] == "course"]


def marks(page: Any) -> list[str]:
    return sorted(page.evaluate(
        "Object.keys(sessionStorage).filter(k => k.startsWith('ck:cs:'))"))


def lesson_pages(collector: Collector, lessons: LessonSite, attrs: str = "") -> list[str]:
    return [lessons.add(f"/algebra/{name}.html", tracker_page(
        collector.url, collector.lesson_key, attrs=attrs, body=LESSON.format(lesson=name)))
        for name in ("one", "two")]


def test_reload_and_a_second_lesson_page_give_one_course_start(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    one, two = lesson_pages(collector, lessons)
    page.goto(one)
    state = wait_delivered(page)
    assert state["made"] == 3  # course START, lesson START, page view
    sid = state["sid"]
    assert marks(page) == [f"ck:cs:boot:{sid}:algebra", f"ck:cs:sent:{sid}:algebra"]

    page.reload()
    assert wait_delivered(page)["made"] == 2  # lesson START and page view only
    page.goto(two)
    again = wait_delivered(page)
    assert again["made"] == 2 and again["sid"] == sid

    wait_for(lambda: len(collector.events(state["did"])) == 7, what="7 events stored")
    starts = course_starts(collector, state["did"])
    assert len(starts) == 1 and starts[0]["duplicate_of"] is None


def test_set_session_hands_the_marks_over_and_chains_the_sessions(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    one, two = lesson_pages(collector, lessons)
    page.goto(one)
    old = wait_delivered(page)["sid"]
    new = f"lms-{uuid.uuid4()}"
    page.evaluate(f"ck('setSession', '{new}')")
    assert marks(page) == [f"ck:cs:boot:{new}:algebra", f"ck:cs:sent:{new}:algebra"]
    page.goto(two)  # the next page of the course, now in the LMS session
    state = wait_delivered(page)
    assert state["sid"] == new and state["made"] == 2  # no second course START

    rows = wait_for(lambda: len(collector.events(state["did"])) == 5
                    and collector.events(state["did"]), what="5 events stored")
    handed = [r for r in rows if r["sid"] == new]
    assert len(handed) == 2
    for row in handed:
        cdata = {c["type"]: c["id"] for c in row["event"]["context"]["cdata"]}
        assert cdata["PreviousSession"] == old
        assert row["chain_id"] == old  # one chain: the old sid is its root
    assert len(course_starts(collector, state["did"])) == 1


def test_cleared_session_storage_gives_a_flagged_duplicate_not_a_second_canonical(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    # The LMS names the session (data-sid), so clearing storage keeps the sid but loses
    # the marks: the tracker sends a second START, the server flags it.
    sid = f"lms-{uuid.uuid4()}"
    one, _ = lesson_pages(collector, lessons, attrs=f'data-sid="{sid}"')
    page.goto(one)
    state = wait_delivered(page)
    assert state["sid"] == sid
    page.evaluate("sessionStorage.clear()")
    page.reload()
    assert wait_delivered(page)["made"] == 3  # the marks are gone: START is sent again

    starts = wait_for(lambda: len(course_starts(collector, state["did"])) == 2
                      and course_starts(collector, state["did"]), what="2 course starts")
    canonical = [s for s in starts if s["duplicate_of"] is None]
    assert len(canonical) == 1
    flagged = [s for s in starts if s["duplicate_of"] is not None]
    assert [f["duplicate_of"] for f in flagged] == [canonical[0]["mid"]]
    rows = collector.query("SELECT mid FROM course_starts WHERE chain_id = :sid", sid=sid)
    assert rows == [{"mid": canonical[0]["mid"]}]


def test_idle_session_rolls_over_to_a_new_sid(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    one, _ = lesson_pages(collector, lessons)
    page.goto(one)
    first = wait_delivered(page)
    # 31 minutes without activity in this tab (the clock is the stored last-seen time)
    page.evaluate("sessionStorage.setItem('ck:seen', String(Date.now() - 31 * 60 * 1000))")
    page.reload()
    second = wait_delivered(page)
    assert second["sid"] != first["sid"]
    assert second["made"] == 3  # a new session starts the course again, canonically
    starts = wait_for(lambda: len(course_starts(collector, first["did"])) == 2
                      and course_starts(collector, first["did"]), what="2 course starts")
    assert all(s["duplicate_of"] is None for s in starts)
    assert tracker_state(page)["sid"] == second["sid"]
