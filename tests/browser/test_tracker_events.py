"""tracker.js in chromium, cross-origin: automatic events, the API, custom events, opt-out,
rejected events, the queue stub, HTTP and beacon fallbacks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import (
    STUB,
    Collector,
    LessonSite,
    tracker_page,
    tracker_state,
    wait_delivered,
)
from tests.conftest import wait_for

pytestmark = pytest.mark.browser


def cdata(row: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["id"] for c in row["event"]["context"]["cdata"]}


def test_auto_impression_and_interact_arrive_with_context(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    body = ("<script>ck('courseStarted', 'algebra'); ck('lessonStarted', 'intro');"
            "ck('setUser', 'learner-7');</script>"
            "<button data-telemetry-id='hint' data-telemetry-type='HINT'"
            " data-telemetry-extra='{\"step\": 2}'>hint</button>"
            "<p data-telemetry-id='para'><span id='inner'>nested</span></p>"
            "<button id='plain'>no telemetry</button>")
    url = lessons.add("/spa.html", tracker_page(collector.url, collector.lesson_key, body=body))
    page.goto(url)
    tracker_state(page)
    page.click("text=hint")
    page.click("#inner")  # a click inside a tagged element counts for that element
    page.click("#plain")
    page.evaluate("history.pushState({}, '', '/spa/a')")
    page.evaluate("history.replaceState({}, '', location.href)")  # same URL: no new view
    page.evaluate("history.replaceState({}, '', '/spa/b')")
    page.go_back()
    page.wait_for_url("**/spa.html")
    page.evaluate("location.hash = '#/chapter-2'")
    page.wait_for_function("location.hash === '#/chapter-2'")
    state = wait_delivered(page)
    rows = wait_for(lambda: [r for r in collector.events(state["did"])
                             if r["eid"] in ("IMPRESSION", "INTERACT")]
                    if len(collector.events(state["did"])) >= 9 else None,
                    what="impressions and interacts stored")

    views = [r for r in rows if r["eid"] == "IMPRESSION"]
    assert [v["uri"].removeprefix(lessons.origin) for v in views] == [
        "/spa.html", "/spa/a", "/spa/b", "/spa.html", "/spa.html#/chapter-2"]
    assert [v["event"]["edata"]["subtype"] for v in views][:3] == [
        "load", "pushState", "replaceState"]
    assert views[-1]["page_id"] == "/spa.html#/chapter-2"  # hash routes are pages

    clicks = [r for r in rows if r["eid"] == "INTERACT"]
    assert [(c["object_id"], c["event"]["edata"]["id"], c["edata_type"]) for c in clicks] == [
        (None, "hint", "HINT"), (None, "para", "CLICK")]
    assert clicks[0]["event"]["edata"]["extra"] == {"step": 2}

    for row in rows:
        ev = row["event"]
        assert ev["ver"] == "3.0" and ev["mid"] == row["mid"]
        assert ev["actor"] == {"id": "learner-7", "type": "User"}
        ctx = ev["context"]
        assert ctx["channel"] == "test-channel" and ctx["env"] == "lesson"
        assert ctx["pdata"]["id"] == "test.lessons"
        assert ctx["sid"] == state["sid"] and ctx["did"] == state["did"]
        assert cdata(row) == {"Course": "algebra", "Lesson": "intro"}
        assert abs(ev["ets"] - row["received_at"]) < 60_000  # milliseconds, not seconds
    assert len({r["mid"] for r in rows}) == len(rows)


def test_queue_stub_keeps_calls_made_before_the_script_loads(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    # The calls run while no tracker exists; the script tag is added afterwards.
    body = (STUB + "<script>ck('courseStarted', 'geometry');"
            "ck('interact', {id: 'early-click'});"
            "ck('emit', 'lesson.early.call', {n: 1});"
            "window.queuedBeforeLoad = ck.q.length;</script>"
            "<button id='load' onclick=\"var s=document.createElement('script');"
            f"s.src='{collector.url}/tracker.js';s.dataset.key='{collector.lesson_key}';"
            "document.head.appendChild(s)\">load</button>")
    url = lessons.add("/stub.html", tracker_page(collector.url, "", body=body, script=False))
    page.goto(url)
    assert page.evaluate("window.queuedBeforeLoad") == 3
    page.click("#load")
    state = wait_delivered(page)
    assert state["made"] == 4  # the three queued calls + the page view
    rows = wait_for(lambda: len(collector.events(state["did"])) == 4
                    and collector.events(state["did"]), what="4 events stored")
    kinds = sorted((r["eid"], r["name"], r["edata_type"]) for r in rows)
    assert kinds == [("EXDATA", "lesson.early.call", "lesson.early.call"),
                     ("IMPRESSION", "IMPRESSION", "view"), ("INTERACT", "INTERACT", "CLICK"),
                     ("START", "START", "course")]
    assert all(r["course_id"] == "geometry" for r in rows)


def test_every_v3_call_builds_a_valid_event(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    calls = """
      ck('start', {type: 'app', mode: 'play'});
      ck('impression', {});
      ck('interact', {id: 'b1'});
      ck('assess', {item: {id: 'q1', maxscore: 1}, pass: 'Yes', score: 1,
                    resvalues: [{answer: 'a'}], duration: 3});
      ck('response', {target: {id: 'poll-1', type: 'Poll'}, type: 'SELECT', values: [{a: 1}]});
      ck('interrupt', {type: 'background'});
      ck('feedback', {rating: 5, comments: 'good'});
      ck('share', {items: [{id: 'c1', type: 'Content'}], dir: 'out', type: 'Link'});
      ck('audit', {props: ['status'], state: 'Live'});
      ck('error', {err: 'E42', errtype: 'CONTENT', stacktrace: 'x'});
      ck('heartbeat', {});
      ck('log', {type: 'api_call', level: 'INFO', message: 'ok'});
      ck('search', {query: 'fractions', size: 1, topn: [{id: 'c1'}]});
      ck('metrics', {loaded: 1});
      ck('summary', {type: 'session', starttime: 1, endtime: 2, timespent: 1,
                     pageviews: 1, interactions: 0});
      ck('exdata', {type: 'partnerdata', data: 'x'});
      ck('end', {type: 'app', mode: 'play', duration: 4});
      ck('push', {cdata: [{type: 'Block', id: 'video-3'}], object: {id: 'video-3', type: 'Video'}});
      ck('interact', {id: 'play'});
      ck('pop');
      ck('interact', {id: 'after-pop'});
    """
    url = lessons.add("/api.html", tracker_page(collector.url, collector.lesson_key,
                                                body=f"<script>{calls}</script>"))
    page.goto(url)
    state = wait_delivered(page)
    assert state["rejected"] == 0 and state["made"] == 20  # 19 event calls + the page view
    rows = wait_for(lambda: len(collector.events(state["did"])) == 20
                    and collector.events(state["did"]), what="20 events stored")
    assert {r["eid"] for r in rows} == {
        "START", "END", "IMPRESSION", "INTERACT", "ASSESS", "RESPONSE", "INTERRUPT",
        "FEEDBACK", "SHARE", "AUDIT", "ERROR", "HEARTBEAT", "LOG", "SEARCH", "METRICS",
        "SUMMARY", "EXDATA"}
    assert all(not r["warnings"] for r in rows), [r["warnings"] for r in rows if r["warnings"]]
    by_id = {r["event"]["edata"].get("id"): r for r in rows if r["eid"] == "INTERACT"}
    assert by_id["play"]["object_id"] == "video-3" and cdata(by_id["play"])["Block"] == "video-3"
    assert by_id["after-pop"]["object_id"] is None and "Block" not in cdata(by_id["after-pop"])


def test_lesson_api_events(collector: Collector, lessons: LessonSite, page: Any) -> None:
    calls = """
      ck('courseStarted', 'algebra'); ck('lessonStarted', 'l1'); ck('setAttempt', 'try-1');
      ck('quizAnswered', 'q1', true, 'b'); ck('quizAnswered', 'q2', false, 'c', 0, 2);
      ck('quizCompleted', 'quiz-1', 1, 3); ck('interaction', 'branch', 'path', {path: 'x'});
      ck('timeOnTask', 42); ck('lessonCompleted', 'l1'); ck('courseCompleted', 'algebra');
    """
    url = lessons.add("/lesson-api.html", tracker_page(
        collector.url, collector.lesson_key, body=f"<script>{calls}</script>"))
    page.goto(url)
    state = wait_delivered(page)
    assert state["made"] == 10  # 9 lesson calls + the page view
    rows = wait_for(lambda: len(collector.events(state["did"])) == 10
                    and collector.events(state["did"]), what="10 events stored")
    got = {(r["eid"], r["edata_type"], r["object_id"]): r for r in rows}
    assert set(got) >= {("START", "course", "algebra"), ("START", "lesson", "l1"),
                        ("END", "assessment", "quiz-1"), ("INTERACT", "branch", None),
                        ("HEARTBEAT", "timeOnTask", None), ("END", "lesson", "l1"),
                        ("END", "course", "algebra")}
    answers = sorted((r["event"]["edata"] for r in rows if r["eid"] == "ASSESS"),
                     key=lambda e: e["item"]["id"])
    assert [(a["item"], a["pass"], a["score"], a["resvalues"]) for a in answers] == [
        ({"id": "q1", "maxscore": 1}, "Yes", 1, [{"answer": "b"}]),
        ({"id": "q2", "maxscore": 2}, "No", 0, [{"answer": "c"}])]
    quiz = got[("END", "assessment", "quiz-1")]["event"]["edata"]
    assert quiz["summary"] == [{"score": 1}, {"maxscore": 3}]
    assert got[("INTERACT", "branch", None)]["event"]["edata"]["extra"] == {"path": "x"}
    assert got[("HEARTBEAT", "timeOnTask", None)]["event"]["edata"]["duration"] == 42
    assessed = [r for r in rows if r["eid"] == "ASSESS"]
    assert all(cdata(r) == {"Course": "algebra", "Lesson": "l1", "Attempt": "try-1"}
               for r in assessed)


def test_custom_emit_is_stored_under_its_name(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    calls = """
      ck('register', 'quiz.hint.shown', {description: 'Hint opened',
         fields: {check: 'the check'}, version: 3});
      ck('emit', 'quiz.hint.shown', {check: 'q7'});
      ck('emit', 'video.seeked', {from: 1, to: 9});
    """
    url = lessons.add("/custom.html", tracker_page(collector.url, collector.lesson_key,
                                                   body=f"<script>{calls}</script>"))
    page.goto(url)
    state = wait_delivered(page)
    rows = wait_for(lambda: len(collector.events(state["did"])) == 4
                    and collector.events(state["did"]), what="4 events stored")
    named = {r["name"]: r["event"]["edata"] for r in rows if r["eid"] == "EXDATA"}
    assert named["quiz.hint.shown"] == {"type": "quiz.hint.shown", "data": {"check": "q7"},
                                        "version": 3}
    assert named["video.seeked"]["version"] == 1
    assert named["collector.register"]["data"] == {
        "name": "quiz.hint.shown", "description": "Hint opened",
        "fields": {"check": "the check"}, "version": 3}


def test_rejected_events_are_reported_and_not_retried(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    url = lessons.add("/rejected.html", tracker_page(collector.url, collector.lesson_key))
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(url)
    tracker_state(page)
    page.evaluate("ck('assess', {item: {id: 'q1'}}); ck('interact', {id: 'ok'})")
    state = wait_delivered(page)
    assert state["rejected"] == 1 and state["accepted"] == 2
    assert any("rejected" in w and "edata" in w for w in warnings), warnings
    page.reload()  # a new page sends what is still queued: the rejected event is not
    again = wait_delivered(page)
    assert again["made"] == 1 and again["accepted"] == 1 and again["rejected"] == 0
    rejected = collector.query(
        "SELECT mid FROM rejected_events WHERE payload LIKE :did", did=f"%{state['did']}%")
    assert len(rejected) == 1 and rejected[0]["mid"].startswith("ASSESS:")


def test_opt_out_stops_sending_and_opt_in_resumes(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    url = lessons.add("/optout.html", tracker_page(collector.url, collector.lesson_key))
    page.goto(url)
    state = wait_delivered(page)
    page.evaluate("ck('optOut'); ck('interact', {id: 'while-out'}); ck('flush')")
    page.reload()  # the choice persists across pages
    assert tracker_state(page)["optedOut"] is True
    page.evaluate("ck('interact', {id: 'still-out'}); ck('flush')")
    assert tracker_state(page)["made"] == 0 and tracker_state(page)["queued"] == 0
    page.evaluate("ck('optIn'); ck('interact', {id: 'back-in'}); ck('flush')")
    wait_delivered(page)
    rows = wait_for(lambda: len(collector.events(state["did"])) == 2
                    and collector.events(state["did"]), what="2 events stored")
    assert [r["eid"] for r in rows] == ["IMPRESSION", "INTERACT"]
    assert rows[1]["event"]["edata"]["id"] == "back-in"


def test_respect_dnt_attribute_honours_do_not_track(
        collector: Collector, lessons: LessonSite, context: Any) -> None:
    context.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    page = context.new_page()
    url = lessons.add("/dnt.html", tracker_page(collector.url, collector.lesson_key,
                                                attrs="data-respect-dnt"))
    page.goto(url)
    state = tracker_state(page)
    assert state["optedOut"] is True and state["made"] == 0
    url = lessons.add("/no-dnt.html", tracker_page(collector.url, collector.lesson_key))
    page.goto(url)  # without the attribute the switch is off (the default)
    assert wait_delivered(page)["accepted"] == 1


BLOCKED_WEBSOCKET = """
  window.WebSocket = class {
    constructor() { setTimeout(() => { this.readyState = 3;
      this.onclose && this.onclose({code: 1006}); }, 10); }
    send() { throw new Error('blocked'); }
    close() {}
  };
"""


def test_http_fallback_when_websockets_are_blocked(
        collector: Collector, lessons: LessonSite, context: Any) -> None:
    context.add_init_script(BLOCKED_WEBSOCKET)
    page = context.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if "/v1/telemetry" in r.url
            and r.method == "POST" else None)
    url = lessons.add("/http.html", tracker_page(
        collector.url, collector.lesson_key,
        body="<script>ck('courseStarted', 'c-http'); ck('interact', {id: 'x'});</script>"))
    page.goto(url)
    state = wait_delivered(page)
    assert state["transport"] == "http" and state["accepted"] == 3
    assert posts and all(u == collector.url + "/v1/telemetry" for u in posts)
    assert len(collector.events(state["did"])) == 3
    # the course start was acked over HTTP, so its delivered mark is set
    marks = page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('ck:cs:'))")
    assert sorted(m.split(":")[2] for m in marks) == ["boot", "sent"]


# Neither the WebSocket nor fetch can deliver: only sendBeacon can.
NEVER_OPENS = """
  window.WebSocket = class { constructor() { this.readyState = 0; } send() {} close() {} };
  window.fetch = () => Promise.reject(new TypeError('fetch disabled by the test'));
"""


def test_unacked_batches_leave_by_beacon_on_pagehide(
        collector: Collector, lessons: LessonSite, context: Any) -> None:
    context.add_init_script(NEVER_OPENS)
    page = context.new_page()
    first = lessons.add("/beacon-1.html", tracker_page(
        collector.url, collector.lesson_key,
        body="<script>ck('interact', {id: 'before-leaving'});</script>"))
    second = lessons.add("/beacon-2.html", "<!doctype html><p>elsewhere</p>")
    page.goto(first)
    state = tracker_state(page)
    assert state["made"] == 2 and state["queued"] >= 1 and state["accepted"] == 0
    page.goto(second)
    rows = wait_for(lambda: len(collector.events(state["did"])) == 2
                    and collector.events(state["did"]), what="beaconed events stored")
    assert sorted(r["eid"] for r in rows) == ["IMPRESSION", "INTERACT"]


def test_unknown_key_stops_the_tracker(
        collector: Collector, lessons: LessonSite, page: Any) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    url = lessons.add("/badkey.html", tracker_page(collector.url, "ck_not_a_key"))
    page.goto(url)
    page.wait_for_function("window.ck && ck.version && ck('state').stopped === 4401")
    assert any("unknown data-key" in e for e in errors), errors
    assert tracker_state(page)["queued"] == 1  # kept: the key may be fixed later
