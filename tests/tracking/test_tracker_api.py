"""The Tracker on its own: context stack, processors, backends (no database)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import pytest

from collector.tracking.registry import RegistrationError
from collector.tracking.tracker import DropEvent, Tracker


class ListBackend:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, event: dict[str, Any]) -> None:
        self.events.append(event)


class BrokenBackend:
    def send(self, event: dict[str, Any]) -> None:
        raise ConnectionError("backend is down")


@pytest.fixture
def tracker() -> tuple[Tracker, ListBackend]:
    t = Tracker()
    backend = ListBackend()
    t.add_backend("list", backend)
    return t, backend


def test_context_nesting_merges_later_over_earlier(tracker: tuple[Tracker, ListBackend]) -> None:
    t, out = tracker
    t.enter_context("request", {"user_id": 10938, "course_id": "algebra"})
    t.emit("nav.request", {"url": "/1"})
    t.enter_context("session", {"user_id": 11111, "session_id": "s-1"})
    t.emit("nav.request", {"url": "/2"})
    t.exit_context("session")
    t.emit("nav.request", {"url": "/3"})
    t.exit_context("request")
    t.emit("nav.request", {"url": "/4"})
    assert [e["context"] for e in out.events] == [
        {"user_id": 10938, "course_id": "algebra"},
        {"user_id": 11111, "course_id": "algebra", "session_id": "s-1"},
        {"user_id": 10938, "course_id": "algebra"},
        {},
    ]
    assert [e["data"]["url"] for e in out.events] == ["/1", "/2", "/3", "/4"]


def test_exiting_the_outer_context_first_keeps_the_inner_one(
        tracker: tuple[Tracker, ListBackend]) -> None:
    t, out = tracker
    t.enter_context("outer", {"a": 1, "shared": "outer"})
    t.enter_context("inner", {"b": 2, "shared": "inner"})
    t.exit_context("outer")
    t.emit("x.y", {})
    assert out.events[-1]["context"] == {"b": 2, "shared": "inner"}
    t.exit_context("inner")
    with pytest.raises(KeyError, match=r"exit_context\('inner'\): no such context entered"):
        t.exit_context("inner")


def test_same_name_entered_twice_exits_the_most_recent(
        tracker: tuple[Tracker, ListBackend]) -> None:
    t, out = tracker
    t.enter_context("view", {"page": "a"})
    t.enter_context("view", {"page": "b"})
    t.emit("x.y", {})
    t.exit_context("view")
    t.emit("x.y", {})
    assert [e["context"]["page"] for e in out.events] == ["b", "a"]


def test_context_manager_exits_on_exception(tracker: tuple[Tracker, ListBackend]) -> None:
    t, out = tracker
    with pytest.raises(RuntimeError), t.context("request", {"user_id": 7}):
        t.emit("x.y", {})
        raise RuntimeError("view failed")
    t.emit("x.y", {})
    assert [e["context"] for e in out.events] == [{"user_id": 7}, {}]


def test_contexts_belong_to_their_thread(tracker: tuple[Tracker, ListBackend]) -> None:
    t, out = tracker
    t.enter_context("request", {"thread": "main"})
    worker = threading.Thread(target=lambda: t.emit("x.y", {}))
    worker.start()
    worker.join(10)
    assert out.events[0]["context"] == {}


def test_processor_enriches_and_drops_with_logged_reason(
        tracker: tuple[Tracker, ListBackend], caplog: pytest.LogCaptureFixture) -> None:
    t, out = tracker

    def add_host(event: dict[str, Any]) -> dict[str, Any]:
        event["context"]["host"] = "web-1"
        return event

    def drop_tests(event: dict[str, Any]) -> None:
        if event["data"].get("test"):
            raise DropEvent("test traffic is not recorded")

    t.add_processor(add_host)
    t.add_processor(drop_tests)
    caplog.set_level(logging.INFO, "collector.tracking")
    assert t.emit("x.kept", {"test": False}) is not None
    assert t.emit("x.dropped", {"test": True}) is None
    assert [e["name"] for e in out.events] == ["x.kept"]
    assert out.events[0]["context"] == {"host": "web-1"}
    assert any("x.dropped dropped by processor" in r.getMessage()
               and "test traffic is not recorded" in r.getMessage()
               and "drop_tests" in r.getMessage() for r in caplog.records)


def test_broken_processor_is_logged_and_the_event_kept(
        tracker: tuple[Tracker, ListBackend], caplog: pytest.LogCaptureFixture) -> None:
    t, out = tracker

    def broken(event: dict[str, Any]) -> None:
        raise ZeroDivisionError

    t.add_processor(broken)
    t.emit("x.y", {"n": 1})
    assert [e["data"] for e in out.events] == [{"n": 1}]
    assert any("processor" in r.getMessage() and "broken" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)


@pytest.mark.parametrize("broken_first", [True, False])
def test_failing_backend_does_not_stop_the_others(
        broken_first: bool, caplog: pytest.LogCaptureFixture) -> None:
    t = Tracker()
    before, after = ListBackend(), ListBackend()
    t.add_backend("before", before)
    t.add_backend("broken", BrokenBackend())
    t.add_backend("after", after)
    if broken_first:
        t.backends = {"broken": t.backends["broken"], "before": before, "after": after}
    t.emit("x.y", {"n": 1})
    t.emit("x.y", {"n": 2})
    assert [e["data"]["n"] for e in before.events] == [1, 2]
    assert [e["data"]["n"] for e in after.events] == [1, 2]
    failures = [r for r in caplog.records if "backend 'broken' failed" in r.getMessage()]
    assert len(failures) == 2 and failures[0].exc_info is not None


def test_bad_input_is_refused_with_a_clear_error(tracker: tuple[Tracker, ListBackend]) -> None:
    t, out = tracker
    with pytest.raises(RegistrationError, match="not a dotted event name"):
        t.emit("login", {})
    with pytest.raises(TypeError, match="data must be a mapping"):
        t.emit("x.y", ["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ctx must be a mapping"):
        t.enter_context("request", "user 1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="has no send"):
        t.add_backend("nope", object())  # type: ignore[arg-type]
    assert out.events == []


def test_values_json_cannot_hold_are_kept_as_text(tracker: tuple[Tracker, ListBackend],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    t, out = tracker

    class Opaque:
        def __str__(self) -> str:
            return "opaque-1"

    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    t.emit("x.y", {"when": when, "obj": Opaque(), 3: "int key"})
    assert out.events[0]["data"] == {"when": "2026-01-02T03:04:05Z", "obj": "opaque-1",
                                     "3": "int key"}
    assert any("Opaque value is not JSON-serializable" in r.getMessage()
               for r in caplog.records)
