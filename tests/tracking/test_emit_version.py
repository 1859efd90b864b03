"""A custom event sent without edata.version is read as, and stored with, the latest
version registered for its name on its site (a later page need not know it)."""

from __future__ import annotations

from tests.conftest import LiveServer
from tests.tracking.conftest import stored_events
from tests.tracking.test_registry_browser import emit_event, post, register_event

V1 = {"quiz_id": "The quiz."}
V2 = {"quiz_id": "The quiz.", "hint": "Which hint was shown."}


def test_emit_without_version_gets_the_latest_registered_one(live_server: LiveServer) -> None:
    # An earlier page registered versions 1 and 2.
    post(live_server, [register_event("lessonkit.hint.shown", V1, version=1),
                       register_event("lessonkit.hint.shown", V2, version=2)])
    # A later page emits without a version.
    body = post(live_server, [emit_event("lessonkit.hint.shown",
                                         {"quiz_id": "q1", "hint": "h2"}, version=None)])
    assert body["result"]["accepted"] == 1
    [ev] = stored_events(live_server.app, "lessonkit.hint.shown")
    assert ev["warnings"] == []
    assert ev["payload"]["edata"]["version"] == 2


def test_emit_of_an_unregistered_name_keeps_no_version(live_server: LiveServer) -> None:
    post(live_server, [emit_event("lessonkit.other", {"x": 1}, version=None)])
    [ev] = stored_events(live_server.app, "lessonkit.other")
    assert "version" not in ev["payload"]["edata"]
    assert ev["warnings"][0].startswith("registry: 'lessonkit.other' is not registered")


def test_an_explicit_version_is_kept(live_server: LiveServer) -> None:
    post(live_server, [register_event("lessonkit.hint.shown", V1, version=1),
                       register_event("lessonkit.hint.shown", V2, version=2)])
    post(live_server, [emit_event("lessonkit.hint.shown", {"quiz_id": "q1"}, version=1)])
    [ev] = stored_events(live_server.app, "lessonkit.hint.shown")
    assert ev["payload"]["edata"]["version"] == 1 and ev["warnings"] == []
