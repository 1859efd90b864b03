"""Database down: 503 / error frame, no ack, nothing half-written; clients resume."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from flask import Flask
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from collector.bench.server import ServerProcess
from collector.storage.engine import make_engine
from collector.storage.models import Event
from tests.conftest import ORIGIN, LiveServer
from tests.factories import event
from tests.tcp_proxy import TcpProxy


@pytest.fixture
def proxied(make_app: Any, pg_url: str) -> Iterator[tuple[LiveServer, TcpProxy, str]]:
    proxy = TcpProxy(5432).start()
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    app: Flask = make_app(url)
    server = LiveServer(app).start()
    try:
        yield server, proxy, pg_url
    finally:
        server.stop()
        proxy.cut()


def post(server: LiveServer, events: list[Any]) -> tuple[int, dict[str, Any]]:
    status, body, _ = post_with_headers(server, events)
    return status, body


def post_with_headers(server: LiveServer, events: list[Any],
                      ) -> tuple[int, dict[str, Any], dict[str, str]]:
    req = urllib.request.Request(
        server.url + "/v1/telemetry", data=msgspec.json.encode({"events": events}),
        headers={"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read()), dict(err.headers)


def stored_mids(direct_url: str) -> list[str]:
    engine = make_engine(direct_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(Event.mid).order_by(Event.mid)).scalars())
    finally:
        engine.dispose()


def test_http_503_while_down_then_retry_stores_once(
        proxied: tuple[LiveServer, TcpProxy, str]) -> None:
    server, proxy, direct = proxied
    first = [event(), event()]
    assert post(server, first)[0] == 200
    proxy.cut()
    retry = [event(), event(), event()]
    status, body, headers = post_with_headers(server, retry)
    assert status == 503 and headers["Retry-After"] == "2"
    assert body["responseCode"] == "SERVER_ERROR"
    assert body["params"]["err"] == "STORAGE_UNAVAILABLE"
    proxy.restore()
    status, body = post(server, retry)
    assert status == 200 and body["result"]["accepted"] == 3
    assert stored_mids(direct) == sorted(e["mid"] for e in first + retry)


def test_health_reports_the_outage(proxied: tuple[LiveServer, TcpProxy, str]) -> None:
    server, proxy, _ = proxied
    proxy.cut()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url + "/health", timeout=30)
    with info.value as err:
        assert err.code == 503
        assert json.loads(err.read()) == {"status": "degraded", "database": "unavailable"}


def test_ws_error_frame_no_ack_then_resend(proxied: tuple[LiveServer, TcpProxy, str]) -> None:
    server, proxy, direct = proxied
    batch = [event(), event("INTERACT")]
    with connect(f"{server.ws_url}/v1/ws?key={server.key}", open_timeout=10,
                 additional_headers={"Origin": ORIGIN}) as ws:
        ws.send(json.dumps({"id": "b0", "events": []}))
        assert json.loads(ws.recv(timeout=60))["accepted"] == 0  # authenticated, serving
        proxy.cut()
        ws.send(json.dumps({"id": "b1", "events": batch}))
        reply = json.loads(ws.recv(timeout=60))
        assert reply == {"id": "b1",
                         "error": "storage unavailable: batch not stored, send it again",
                         "code": "STORAGE_UNAVAILABLE", "retry": True, "retry_after_ms": 2000}
        proxy.restore()
        ws.send(json.dumps({"id": "b1", "events": batch}))
        reply = json.loads(ws.recv(timeout=60))
        assert reply["accepted"] == 2
    assert stored_mids(direct) == sorted(e["mid"] for e in batch)
    engine = make_engine(direct)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Event)).scalar_one() == 2
    finally:
        engine.dispose()


def test_ws_connect_while_down_closes_1013(pg_url: str, tmp_path: Any) -> None:
    proxy = TcpProxy(5432).start()
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        with ServerProcess(url, instance=tmp_path / "instance") as server:
            proxy.cut()
            ws_url = server.url.replace("http", "ws", 1)
            with connect(f"{ws_url}/v1/ws?key={server.write_key}", open_timeout=10) as ws, \
                    pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=30)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1013
    finally:
        proxy.cut()
