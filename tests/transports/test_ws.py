"""WebSocket door over a real socket: acks after commit, error frames, close codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from flask import Flask
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from collector.bench.server import ServerProcess
from collector.storage.engine import get_engine
from collector.storage.models import Event, RejectedEvent
from tests.conftest import ORIGIN, LiveServer
from tests.factories import event


def open_ws(server: LiveServer, key: str | None = None, origin: str | None = ORIGIN,
            **kw: Any) -> ClientConnection:
    headers = {"Origin": origin} if origin else {}
    return connect(f"{server.ws_url}/v1/ws?key={key or server.key}",
                   additional_headers=headers, open_timeout=10, **kw)


def send(ws: ClientConnection, frame: Any) -> dict[str, Any]:
    ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return dict(json.loads(ws.recv(timeout=30)))


def stored(app: Flask) -> int:
    with get_engine(app).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Event)).scalar_one())


def test_batch_is_acked_after_commit(any_live_server: LiveServer) -> None:
    with open_ws(any_live_server) as ws:
        ack = send(ws, {"id": "b1", "events": [event(), event("INTERACT")]})
        assert ack == {"id": "b1", "accepted": 2, "duplicates": 0, "rejected": []}
        # The ack came after the commit: a separate connection sees the rows now.
        assert stored(any_live_server.app) == 2


def test_rejected_events_listed_duplicates_counted(live_server: LiveServer) -> None:
    ev = event()
    bad = event("START", edata={})
    with open_ws(live_server) as ws:
        ack = send(ws, {"id": 7, "events": [ev, bad, ev]})
        assert ack["id"] == 7 and ack["accepted"] == 1 and ack["duplicates"] == 1
        assert ack["rejected"] == [{"index": 1, "mid": bad["mid"],
                                    "errors": ["edata.type: required"]}]
        ack = send(ws, {"id": "again", "events": [ev]})
        assert (ack["accepted"], ack["duplicates"]) == (0, 1)


def test_pipelined_frames_are_acked_in_order(live_server: LiveServer) -> None:
    with open_ws(live_server) as ws:
        for i in range(30):
            ws.send(json.dumps({"id": f"b{i}", "events": [event() for _ in range(20)]}))
        acks = [json.loads(ws.recv(timeout=30)) for _ in range(30)]
    assert [a["id"] for a in acks] == [f"b{i}" for i in range(30)]
    assert sum(a["accepted"] for a in acks) == 600 == stored(live_server.app)


@pytest.mark.parametrize(("frame", "error"), [
    ("this is not json", "body is not valid JSON"),
    ('{"id": "b2"}', '"events": required'),
    ('{"id": "b3", "events": "nope"}', '"events": expected a list'),
    ("[1]", 'body must be a JSON object with an "events" list'),
])
def test_unusable_frame_gets_error_frame_and_connection_stays_open(
        live_server: LiveServer, frame: str, error: str) -> None:
    with open_ws(live_server) as ws:
        reply = send(ws, frame)
        assert set(reply) == {"id", "error", "code", "retry"}
        assert reply["error"].startswith(error)
        assert reply["code"] == "INVALID_REQUEST" and reply["retry"] is False
        assert reply["id"] == json.loads(frame).get("id") if frame.startswith("{") else True
        ack = send(ws, {"id": "next", "events": [event()]})
        assert ack["accepted"] == 1


def test_binary_frames_are_accepted(live_server: LiveServer) -> None:
    with open_ws(live_server) as ws:
        ws.send(msgspec.json.encode({"id": "bin", "events": [event()]}))
        assert json.loads(ws.recv(timeout=30))["accepted"] == 1


# Close codes are checked against `collector serve` itself (gunicorn): the production
# stack, where the closing handshake completes (werkzeug's dev server keeps the socket).
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("served")
    with ServerProcess(f"sqlite:///{tmp}/c.sqlite3", instance=tmp / "instance",
                       env={"COLLECTOR_MAX_BODY_BYTES": "50000"}) as server:
        yield server


def served_ws(server: ServerProcess, key: str | None = None,
              origin: str | None = None) -> ClientConnection:
    headers = {"Origin": origin} if origin else {}
    url = server.url.replace("http", "ws", 1) + f"/v1/ws?key={key or server.write_key}"
    return connect(url, additional_headers=headers, open_timeout=10, max_size=None)


def test_bad_key_closes_4401(served: ServerProcess) -> None:
    with served_ws(served, key="ck_wrong") as ws, pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4401


def test_bad_origin_closes_4403(served: ServerProcess) -> None:
    with served_ws(served, origin="https://evil.example") as ws, \
            pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403


def test_frame_over_size_limit_closes_1009(served: ServerProcess) -> None:
    with served_ws(served) as ws, pytest.raises(ConnectionClosed) as info:
        ws.send(json.dumps({"id": "big", "events": [event(), "x" * 200_000]}))
        ws.recv(timeout=10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    with served_ws(served) as ws:  # the server is fine and nothing of the frame was stored
        ack = json.loads(_roundtrip(ws))
    assert ack["accepted"] == 1


def _roundtrip(ws: ClientConnection) -> str:
    ws.send(json.dumps({"id": "small", "events": [event()]}))
    return str(ws.recv(timeout=10))


def test_rate_limit_error_frame(make_app: Any, sqlite_url: str) -> None:
    app = make_app(sqlite_url, RATE_LIMIT=5)
    server = LiveServer(app).start()
    try:
        with open_ws(server) as ws:
            assert send(ws, {"id": "a", "events": [event() for _ in range(5)]})["accepted"] == 5
            reply = send(ws, {"id": "b", "events": [event()]})
            assert reply["id"] == "b" and "rate limit exceeded" in reply["error"]
            assert reply["code"] == "RATE_LIMITED" and reply["retry"] is True
            assert 0 < reply["retry_after_ms"] <= 1000
        assert stored(app) == 5
    finally:
        server.stop()


def test_every_kind_of_bad_event_in_one_frame_spares_its_siblings(
        any_live_server: LiveServer) -> None:
    import time

    now = int(time.time() * 1000)
    good = event()
    dup = event()
    seconds = event(ets=now // 1000)
    future = event(ets=now + 3 * 86_400_000)
    missing = event("IMPRESSION", edata={"type": "view"})
    wrong_type = event("SEARCH", edata={"query": "q", "size": "many", "topn": []})
    unknown = event() | {"eid": "PAGEVIEW"}
    deep = '{"eid":"LOG","x":' + "[" * 30_000 + "]" * 30_000 + "}"
    frame = ('{"id": "mixed", "events": [' + ",".join(
        [json.dumps(good), '"not an object"', json.dumps(unknown), json.dumps(missing),
         json.dumps(wrong_type), json.dumps(seconds), json.dumps(future), json.dumps(dup),
         json.dumps(dup), deep]) + "]}")
    with open_ws(any_live_server) as ws:
        ack = send(ws, frame)
    assert ack["id"] == "mixed"
    assert (ack["accepted"], ack["duplicates"]) == (4, 1)
    rejected = {r["index"]: r["errors"] for r in ack["rejected"]}
    assert set(rejected) == {1, 2, 3, 4, 9}
    assert rejected[1] == ["event: expected object, got string"]
    assert rejected[2][0].startswith("eid: unknown event type 'PAGEVIEW'")
    assert rejected[3] == ["edata.pageid: required", "edata.uri: required"]
    assert rejected[4] == ["edata.size: expected integer, got string"]
    assert rejected[9] == ["event: nested too deeply"]
    with get_engine(any_live_server.app).connect() as conn:
        rows = {r.mid: r for r in conn.execute(select(Event.mid, Event.ets, Event.warnings))}
        quarantined = conn.execute(select(func.count()).select_from(RejectedEvent)).scalar_one()
    assert set(rows) == {good["mid"], seconds["mid"], future["mid"], dup["mid"]}
    assert rows[seconds["mid"]].ets == (now // 1000) * 1000
    assert "looks like seconds" in rows[seconds["mid"]].warnings
    assert "more than a day in the future" in rows[future["mid"]].warnings
    assert quarantined == 5
