"""Funnel counts on hand-made event sets, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from collector.analytics.funnel import FunnelResult, FunnelSpec, parse_step, run_funnel
from collector.analytics.keys import KeyCatalog
from collector.analytics.scope import Scope
from collector.storage.engine import get_engine
from tests.dashboard.conftest import T0
from tests.factories import course_start, event, lesson_event

MIN = 60_000


def view(page: str, t: int, sid: str = "s1", actor: str = "a1", **kw: Any) -> dict[str, Any]:
    return lesson_event("IMPRESSION", sid=sid, actor=actor, ets=T0 + t,
                        edata={"type": "view", "pageid": page, "uri": f"/p/{page}"}, **kw)


def click(block: str, t: int, sid: str = "s1", actor: str = "a1") -> dict[str, Any]:
    return lesson_event("INTERACT", sid=sid, actor=actor, ets=T0 + t,
                        edata={"type": "CLICK", "id": block, "pageid": "p"})


def funnel(app: Flask, steps: list[str], **kw: Any) -> FunnelResult:
    spec = FunnelSpec(steps=tuple(parse_step(s) for s in steps), **kw)
    with get_engine(app).connect() as conn:
        return run_funnel(conn, KeyCatalog().load(conn), spec)


def counts(result: FunnelResult) -> list[int]:
    return [s.count for s in result.steps]


ABC = ["IMPRESSION pageid=a", "IMPRESSION pageid=b", "INTERACT id=c"]


@pytest.fixture
def mixed(any_app: Flask, store: Callable[..., Any]) -> Flask:
    store([
        # s1: A X B C  (B not right after A)
        view("a", 0, "s1"), view("x", 1000, "s1"), view("b", 2000, "s1"), click("c", 3000, "s1"),
        # s2: B A C  (B before A)
        view("b", 0, "s2"), view("a", 1000, "s2"), click("c", 2000, "s2"),
        # s3: A B C
        view("a", 0, "s3"), view("b", 1000, "s3"), click("c", 2000, "s3"),
    ])
    return any_app


def test_ordered_allows_other_events_between_steps(mixed: Flask) -> None:
    assert counts(funnel(mixed, ABC, mode="ordered")) == [3, 2, 2]


def test_strict_needs_each_step_right_after_the_previous(mixed: Flask) -> None:
    result = funnel(mixed, ABC, mode="strict")
    assert counts(result) == [3, 1, 1]
    assert sorted(d[1] for d in result.steps[0].dropped) == ["s1", "s2"]


def test_unordered_counts_distinct_steps_in_any_order(mixed: Flask) -> None:
    assert counts(funnel(mixed, ABC, mode="unordered")) == [3, 3, 3]


def test_conversion_window_edge_is_inclusive(any_app: Flask, store: Callable[..., Any]) -> None:
    store([view("a", 0, "s1"), view("b", MIN, "s1"),          # exactly the window: converts
           view("a", 0, "s2"), view("b", MIN + 1, "s2")])     # one ms over: does not
    for mode in ("ordered", "strict", "unordered"):
        result = funnel(any_app, ["IMPRESSION pageid=a", "IMPRESSION pageid=b"], mode=mode,
                        window_ms=MIN)
        assert counts(result) == [2, 1], mode
        assert [d[1] for d in result.steps[0].dropped] == ["s2"]


def test_window_counts_from_the_first_step_not_the_previous(
        any_app: Flask, store: Callable[..., Any]) -> None:
    store([view("a", 0), view("b", 40_000), view("c", 80_000)])
    result = funnel(any_app, ["IMPRESSION pageid=a", "IMPRESSION pageid=b",
                              "IMPRESSION pageid=c"], window_ms=MIN)
    assert counts(result) == [1, 1, 0]


def test_a_later_first_step_can_still_convert(any_app: Flask, store: Callable[..., Any]) -> None:
    # The first A is too early for the window, the second one converts.
    store([view("a", 0), view("a", 10 * MIN), view("b", 10 * MIN + 5000)])
    result = funnel(any_app, ["IMPRESSION pageid=a", "IMPRESSION pageid=b"], window_ms=MIN)
    assert counts(result) == [1, 1]
    assert result.steps[1].median_ms == 5000


def test_time_to_convert_median_and_p90(any_app: Flask, store: Callable[..., Any]) -> None:
    waits = {"s1": 10_000, "s2": 20_000, "s3": 30_000, "s4": 100_000}
    store([e for sid, wait in waits.items()
           for e in (view("a", 0, sid, actor=sid), view("b", wait, sid, actor=sid))])
    result = funnel(any_app, ["IMPRESSION pageid=a", "IMPRESSION pageid=b"])
    step = result.steps[1]
    assert step.count == 4 and step.from_previous == 1.0 and step.from_first == 1.0
    assert step.median_ms == 25_000
    assert step.p90_ms == 100_000
    assert result.steps[0].median_ms is None


def test_duplicate_course_starts_are_excluded(any_app: Flask, store: Callable[..., Any]) -> None:
    store([course_start("algebra", sid="s1", ets=T0),
           course_start("algebra", sid="s1", ets=T0 + 1000),   # reload: duplicate
           course_start("algebra", sid="s2", ets=T0 + 2000)])  # another chain: canonical
    twice = ["START edata.type=course", "START edata.type=course"]
    assert counts(funnel(any_app, twice)) == [2, 0]
    assert counts(funnel(any_app, twice, unit="learner")) == [1, 1]


def test_by_learner_joins_sessions_by_session_does_not(
        any_app: Flask, store: Callable[..., Any]) -> None:
    store([view("a", 0, "s1", "ann"), view("b", 5000, "s2", "ann"),
           view("a", 0, "s3", "bob")])
    steps = ["IMPRESSION pageid=a", "IMPRESSION pageid=b"]
    assert counts(funnel(any_app, steps, unit="session")) == [2, 0]
    learner = funnel(any_app, steps, unit="learner")
    assert counts(learner) == [2, 1]
    assert [d[1] for d in learner.steps[0].dropped] == ["bob"]


def test_or_steps_and_property_filters(any_app: Flask, store: Callable[..., Any]) -> None:
    store([view("a", 0, "s1"), click("c", 1000, "s1"),
           view("a", 0, "s2"), view("b", 1000, "s2"),
           view("a", 0, "s3"), click("other", 1000, "s3")])
    assert counts(funnel(any_app, ["IMPRESSION pageid=a",
                                   "IMPRESSION pageid=b | INTERACT id=c"])) == [3, 2]
    assert counts(funnel(any_app, ["IMPRESSION pageid=a", "INTERACT edata.type=CLICK"])) == [3, 2]


def test_custom_event_names_are_steps(any_app: Flask, store: Callable[..., Any]) -> None:
    custom = event("EXDATA", sid="s1", ets=T0 + 1000,
                   edata={"type": "quiz.submitted", "data": {"score": 3}, "version": 1})
    store([view("a", 0, "s1"), custom, view("a", 0, "s2")])
    assert counts(funnel(any_app, ["IMPRESSION", "quiz.submitted"])) == [2, 1]


def test_course_scope_only_counts_that_courses_events(
        any_app: Flask, store: Callable[..., Any]) -> None:
    store([view("a", 0, "s1"),
           lesson_event("IMPRESSION", course="geometry", sid="s1", ets=T0 + 1000,
                        edata={"type": "view", "pageid": "b", "uri": "/b"})])
    steps = ["IMPRESSION pageid=a", "IMPRESSION pageid=b"]
    assert counts(funnel(any_app, steps)) == [1, 1]
    assert counts(funnel(any_app, steps, scope=Scope(course="algebra"))) == [1, 0]


def test_events_stored_out_of_order_are_read_in_client_time(
        any_app: Flask, store: Callable[..., Any]) -> None:
    store([view("b", 2000, "s1")])                      # arrives first, happened last
    store([view("a", 0, "s1"), view("x", 1000, "s1")])
    steps = ["IMPRESSION pageid=a", "IMPRESSION pageid=x", "IMPRESSION pageid=b"]
    assert counts(funnel(any_app, steps, mode="strict")) == [1, 1, 1]


def test_time_range_limits_the_events_counted(any_app: Flask, store: Callable[..., Any]) -> None:
    store([view("a", 0, "s1"), view("b", 10 * MIN, "s1")])
    steps = ["IMPRESSION pageid=a", "IMPRESSION pageid=b"]
    assert counts(funnel(any_app, steps, scope=Scope(until_ms=T0 + 5 * MIN))) == [1, 0]


@pytest.mark.parametrize(("text", "message"), [
    ("", "expected NAME"),
    ("IMPRESSION colour=red", "'colour=red' is not prop=value"),
    ("pageid=a", "starts with an event name"),
    ("IMPRESSION |", "expected NAME"),
])
def test_bad_steps_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_step(text, "step 2")


def test_step_count_is_bounded() -> None:
    with pytest.raises(ValueError, match="between 2 and 10"):
        FunnelSpec(steps=(parse_step("START"),))
    with pytest.raises(ValueError, match="between 2 and 10"):
        FunnelSpec(steps=tuple(parse_step("START") for _ in range(11)))
