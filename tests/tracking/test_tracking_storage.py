"""Python register/emit stored through the ingest pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from collector import tracking
from collector.tracking.registry import RegistrationError
from tests.tracking.conftest import registrations, stored_events

VIDEO_FIELDS = {"video_id": "The video.", "position": "Seconds into the video."}


def test_emit_without_registration_warns_and_stores(
        any_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    with any_app.app_context():
        tracking.emit("org.video.paused", {"video_id": "v1"})
    [ev] = stored_events(any_app, "org.video.paused")
    assert ev["eid"] == "EXDATA" and ev["site"] == "collector"
    assert ev["payload"]["edata"] == {"type": "org.video.paused", "data": {"video_id": "v1"}}
    assert len(ev["warnings"]) == 1 and "'org.video.paused' is not registered" in \
        ev["warnings"][0]
    assert any("org.video.paused" in r.getMessage() and "is not registered" in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)


def test_registered_emit_carries_version_and_no_warning(any_app: Flask) -> None:
    with any_app.app_context():
        reg = tracking.register("org.video.paused", "A learner paused a video.", VIDEO_FIELDS)
        tracking.emit("org.video.paused", {"video_id": "v1", "position": 12.5})
    assert reg.schema_id == "org.video.paused/v1"
    [ev] = stored_events(any_app, "org.video.paused")
    assert ev["warnings"] == []
    assert ev["payload"]["edata"]["version"] == 1
    assert ev["payload"]["edata"]["data"] == {"video_id": "v1", "position": 12.5}
    assert registrations(any_app, "org.video.paused") == {1: {
        "description": "A learner paused a video.", "fields": VIDEO_FIELDS,
        "source": "python", "schema_id": "org.video.paused/v1"}}


def test_field_mismatch_warns_and_stores(any_app: Flask,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with any_app.app_context():
        tracking.register("org.video.paused", "Paused.", VIDEO_FIELDS)
        tracking.emit("org.video.paused", {"video_id": "v1", "speed": 2})
    [ev] = stored_events(any_app, "org.video.paused")
    assert ev["warnings"] == [
        "registry: org.video.paused/v1: field(s) not in the registration: speed",
        "registry: org.video.paused/v1: registered field(s) missing: position",
    ]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not in the registration: speed" in m and ev["mid"] in m for m in logged)


def test_changed_field_set_needs_a_new_version(any_app: Flask) -> None:
    with any_app.app_context():
        tracking.register("org.video.paused", "Paused.", VIDEO_FIELDS)
        # Same field set again: only the descriptions change.
        tracking.register("org.video.paused", "Paused (v1, clearer).", VIDEO_FIELDS)
        with pytest.raises(RegistrationError, match=r"adds speed.*version=2"):
            tracking.register("org.video.paused", "Paused.", {**VIDEO_FIELDS, "speed": "x"})
        tracking.register("org.video.paused", "Paused, with speed.",
                          {**VIDEO_FIELDS, "speed": "Playback speed."}, version=2)
        tracking.emit("org.video.paused", {"video_id": "v1", "position": 3, "speed": 1.5})
    regs = registrations(any_app, "org.video.paused")
    assert sorted(regs) == [1, 2]
    assert regs[1]["description"] == "Paused (v1, clearer)."
    assert set(regs[1]["fields"]) == {"video_id", "position"}
    [ev] = stored_events(any_app, "org.video.paused")
    assert ev["payload"]["edata"]["version"] == 2 and ev["warnings"] == []


def test_context_fills_the_event_columns(any_app: Flask) -> None:
    with any_app.app_context(), tracking.context("request", {
            "actor_id": "learner-7", "sid": "sess-1", "course_id": "algebra", "ip": "x"}):
        tracking.emit("org.video.paused", {"video_id": "v1"})
    [ev] = stored_events(any_app, "org.video.paused")
    assert (ev["actor_id"], ev["sid"], ev["course_id"]) == ("learner-7", "sess-1", "algebra")
    assert ev["payload"]["edata"]["context"]["ip"] == "x"


def test_failing_backend_does_not_stop_the_database(any_app: Flask,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def send(self, event: dict[str, Any]) -> None:
            raise OSError("disk full")

    tracker = tracking.get_tracker(any_app)
    tracker.backends = {"broken": Broken(), **tracker.backends}
    tracker.emit("org.video.paused", {"video_id": "v1"})
    assert len(stored_events(any_app, "org.video.paused")) == 1
    assert any("backend 'broken' failed" in r.getMessage() for r in caplog.records)


def test_module_functions_need_an_app() -> None:
    with pytest.raises(RuntimeError, match="app_context"):
        tracking.emit("org.video.paused", {})


def test_emit_from_the_writer_thread_is_refused_not_deadlocked(
        app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    import threading

    tracker = tracking.get_tracker(app)
    worker = threading.Thread(target=tracker.emit, args=("org.video.paused", {}),
                              name="collector-writer")
    worker.start()
    worker.join(10)
    assert not worker.is_alive()
    assert any("from the writer thread" in str(r.exc_info[1]) for r in caplog.records
               if r.exc_info)
    assert stored_events(app, "org.video.paused") == []
