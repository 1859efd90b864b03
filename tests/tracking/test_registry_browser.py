"""The browser wire contract, posted over real HTTP and WebSocket connections.

``ck('register', name, {description, fields, version})`` sends EXDATA ``edata {type:
"collector.register", data: {name, description, fields, version}}``;
``ck('emit', name, data)`` sends EXDATA ``edata {type: name, data, version}``.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from websockets.sync.client import connect

from tests.conftest import ORIGIN, LiveServer
from tests.factories import event
from tests.tracking.conftest import registrations, stored_events

QUIZ_FIELDS = {"quiz_id": "The quiz.", "hint": "Which hint was shown."}


def register_event(name: str, fields: dict[str, str], version: int = 1,
                   description: str = "A hint was shown.") -> dict[str, Any]:
    return event("EXDATA", edata={"type": "collector.register", "data": {
        "name": name, "description": description, "fields": fields, "version": version}})


def emit_event(name: str, data: Any, version: int | None = 1) -> dict[str, Any]:
    edata: dict[str, Any] = {"type": name, "data": data}
    if version is not None:
        edata["version"] = version
    return event("EXDATA", edata=edata)


def post(server: LiveServer, events: list[dict[str, Any]]) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + "/v1/telemetry", data=json.dumps({"events": events}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {server.key}",
                 "Origin": ORIGIN})
    with urllib.request.urlopen(request, timeout=10) as response:
        body: dict[str, Any] = json.load(response)
    return body


def test_register_then_emit_in_one_http_batch(any_live_server: LiveServer) -> None:
    app = any_live_server.app
    body = post(any_live_server, [register_event("lessonkit.hint.shown", QUIZ_FIELDS),
                                  emit_event("lessonkit.hint.shown",
                                             {"quiz_id": "q1", "hint": "h2"})])
    assert body["result"]["accepted"] == 2 and body["result"]["rejected"] == []
    assert registrations(app, "lessonkit.hint.shown") == {1: {
        "description": "A hint was shown.", "fields": QUIZ_FIELDS, "source": "browser",
        "schema_id": "lessonkit.hint.shown/v1"}}
    [reg_ev] = stored_events(app, "collector.register")
    [ev] = stored_events(app, "lessonkit.hint.shown")
    assert reg_ev["warnings"] == [] and ev["warnings"] == []
    assert ev["site"] == "test"


def test_browser_emit_warnings_are_stored(any_live_server: LiveServer) -> None:
    app = any_live_server.app
    post(any_live_server, [register_event("lessonkit.hint.shown", QUIZ_FIELDS)])
    post(any_live_server, [
        emit_event("lessonkit.unknown.thing", {"a": 1}),
        emit_event("lessonkit.hint.shown", {"quiz_id": "q1"}),
        emit_event("lessonkit.hint.shown", {"quiz_id": "q1", "hint": "h"}, version=3),
        emit_event("lessonkit.hint.shown", "not an object"),
    ])
    [unknown] = stored_events(app, "lessonkit.unknown.thing")
    assert "'lessonkit.unknown.thing' is not registered" in unknown["warnings"][0]
    # Rows are stored in mid order, not batch order: find each by what it carried.
    by_data = {json.dumps(e["payload"]["edata"]["data"]) + str(e["payload"]["edata"]["version"]):
               e for e in stored_events(app, "lessonkit.hint.shown")}
    missing = by_data['{"quiz_id": "q1"}1']
    wrong_version = by_data['{"quiz_id": "q1", "hint": "h"}3']
    not_object = by_data['"not an object"1']
    assert missing["warnings"] == [
        "registry: lessonkit.hint.shown/v1: registered field(s) missing: hint"]
    assert wrong_version["warnings"] == [
        "registry: 'lessonkit.hint.shown' version 3 is not registered (registered: 1)"]
    assert not_object["warnings"] == [
        "registry: lessonkit.hint.shown/v1: data must be an object of fields, got str"]


def test_changed_fields_without_new_version_warn_and_keep_the_registration(
        any_live_server: LiveServer) -> None:
    app = any_live_server.app
    post(any_live_server, [register_event("lessonkit.hint.shown", QUIZ_FIELDS)])
    changed = {"quiz_id": "The quiz.", "hint_text": "The hint."}
    body = post(any_live_server, [register_event("lessonkit.hint.shown", changed)])
    assert body["result"]["accepted"] == 1  # stored, never refused
    first, second = stored_events(app, "collector.register")
    assert first["warnings"] == []
    assert second["warnings"] == [
        "registry: lessonkit.hint.shown/v1 is registered with fields [hint, quiz_id]; this "
        "registration adds hint_text; drops hint: a changed field set needs a new version "
        "(version=2)"]
    assert registrations(app, "lessonkit.hint.shown")[1]["fields"] == QUIZ_FIELDS
    # With a new version it is accepted, and emits of v2 check against v2.
    post(any_live_server, [register_event("lessonkit.hint.shown", changed, version=2),
                           emit_event("lessonkit.hint.shown",
                                      {"quiz_id": "q", "hint_text": "t"}, version=2)])
    assert sorted(registrations(app, "lessonkit.hint.shown")) == [1, 2]
    assert stored_events(app, "lessonkit.hint.shown")[-1]["warnings"] == []


def test_browser_cannot_register_the_collectors_own_names(
        any_live_server: LiveServer) -> None:
    app = any_live_server.app
    post(any_live_server, [register_event("collector.user.logged_in", {"x": "y"}),
                           event("EXDATA", edata={"type": "collector.register",
                                                  "data": {"name": "nodots"}})])
    by_name = {e["payload"]["edata"]["data"]["name"]: e
               for e in stored_events(app, "collector.register")}
    reserved, malformed = by_name["collector.user.logged_in"], by_name["nodots"]
    assert "belong to the collector" in reserved["warnings"][0]
    assert "'nodots' is not a dotted event name" in malformed["warnings"][0]
    assert registrations(app, "collector.user.logged_in") == {}


def test_register_and_emit_over_websocket_pipelined(any_live_server: LiveServer) -> None:
    """Frame 2 is sent before frame 1 (the registration) is acked: it already applies."""
    app = any_live_server.app
    url = f"{any_live_server.ws_url}/v1/ws?key={any_live_server.key}"
    with connect(url, additional_headers={"Origin": ORIGIN}, open_timeout=10) as ws:
        ws.send(json.dumps({"id": "b1", "events": [
            register_event("lessonkit.hint.shown", QUIZ_FIELDS)]}))
        ws.send(json.dumps({"id": "b2", "events": [
            emit_event("lessonkit.hint.shown", {"quiz_id": "q1", "hint": "h"})]}))
        acks = {a["id"]: a for a in (json.loads(ws.recv(timeout=10)) for _ in range(2))}
    assert acks["b1"]["accepted"] == 1 and acks["b2"]["accepted"] == 1
    [ev] = stored_events(app, "lessonkit.hint.shown")
    assert ev["warnings"] == []
    assert registrations(app, "lessonkit.hint.shown")[1]["source"] == "browser"
