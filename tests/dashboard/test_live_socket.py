"""``/v1/live``: login required, own origin only, updates within 1 s, debounced."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from collector.web.dashboard.live import get_feed
from tests.conftest import LiveServer, unavailable
from tests.dashboard.conftest import log_in, session_cookie
from tests.factories import event


def live(server: LiveServer, cookie: str | None, **headers: str) -> ClientConnection:
    extra = dict(headers)
    if cookie:
        extra["Cookie"] = cookie
    return connect(server.ws_url + "/v1/live", additional_headers=extra, open_timeout=5)


def cookie_for(app: Flask) -> str:
    client = app.test_client()
    log_in(client)
    return session_cookie(client)


def send_batches(server: LiveServer, batches: list[list[dict[str, Any]]]) -> float:
    """Send through the ingest socket; returns the time the last ack arrived."""
    with connect(f"{server.ws_url}/v1/ws?key={server.key}", open_timeout=5) as ws:
        for i, batch in enumerate(batches):
            ws.send(json.dumps({"id": f"b{i}", "events": batch}))
        for _ in batches:
            ack = json.loads(ws.recv(timeout=10))
            assert ack["accepted"] == len(batches[0]), ack
        return time.monotonic()


def frames_until(ws: ClientConnection, total: int, timeout: float) -> list[dict[str, Any]]:
    """Event frames until ``total`` events were reported (or the deadline)."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while sum(f["count"] for f in frames) < total:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            frame = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        if frame["type"] == "events":
            frame["at"] = time.monotonic()
            frames.append(frame)
    return frames


def test_anonymous_and_foreign_origin_sockets_are_refused(live_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as anonymous:
        live(live_server, None).close()
    assert anonymous.value.response.status_code == 401
    cookie = cookie_for(live_server.app)
    with pytest.raises(InvalidStatus) as foreign:
        live(live_server, cookie, Origin="https://evil.example").close()
    assert foreign.value.response.status_code == 403
    with live(live_server, cookie, Origin=live_server.url) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"


def test_an_acked_event_reaches_the_dashboard_within_a_second(
        any_live_server: LiveServer) -> None:
    with live(any_live_server, cookie_for(any_live_server.app)) as ws:
        hello = json.loads(ws.recv(timeout=5))
        expected = "postgres" if "postgresql" in any_live_server.app.config[
            "DATABASE_URL"] else "process"
        assert hello["mode"] == expected
        if hello["mode"] != "process":  # wait for the LISTEN thread's own connection
            assert get_feed(any_live_server.app).listening.wait(5)
        acked = send_batches(any_live_server, [[event("IMPRESSION", actor="<b>x</b>")]])
        (frame,) = frames_until(ws, 1, timeout=3)
    assert frame["at"] - acked < 1.0
    assert frame["count"] == 1 and frame["events"][0]["actor"] == "<b>x</b>"


def test_bursts_are_debounced(live_server: LiveServer) -> None:
    with live(live_server, cookie_for(live_server.app)) as ws:
        json.loads(ws.recv(timeout=5))
        started = time.monotonic()
        send_batches(live_server, [[event("INTERACT") for _ in range(10)] for _ in range(100)])
        frames = frames_until(ws, 1000, timeout=10)
        elapsed = time.monotonic() - started
    assert sum(f["count"] for f in frames) == 1000
    # One frame per debounce period at most (0.25 s), never one per batch.
    assert len(frames) <= elapsed / 0.25 + 2, (len(frames), elapsed)
    assert all(len(f["events"]) <= 20 for f in frames)


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_server(make_app: Callable[..., Flask], sqlite_url: str) -> Iterator[LiveServer]:
    if not _redis_up():
        unavailable("Redis at 127.0.0.1:6379 unavailable")
    server = LiveServer(make_app(sqlite_url, REDIS_URL="redis://127.0.0.1:6379/15")).start()
    yield server
    server.stop()


def test_redis_fan_out(redis_server: LiveServer) -> None:
    with live(redis_server, cookie_for(redis_server.app)) as ws:
        assert json.loads(ws.recv(timeout=5))["mode"] == "redis"
        assert get_feed(redis_server.app).listening.wait(5)
        acked = send_batches(redis_server, [[event("IMPRESSION") for _ in range(3)]])
        frames = frames_until(ws, 3, timeout=3)
    assert sum(f["count"] for f in frames) == 3
    assert frames[0]["at"] - acked < 1.0


def _login_cookie(base: str, password: str) -> str:
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/login", timeout=10) as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', resp.read().decode())
    assert token
    form = urllib.parse.urlencode({"username": "admin", "password": password,
                                   "csrf_token": token.group(1)}).encode()
    with opener.open(base + "/login", data=form, timeout=10) as resp:
        assert resp.status == 200
    (cookie,) = [c for c in jar if c.name == "session"]
    return f"session={cookie.value}"


@pytest.mark.postgres
def test_live_across_gunicorn_workers_on_postgresql(pg_url: str, tmp_path: Any) -> None:
    """Events acked by any worker reach a dashboard connected to any worker (NOTIFY)."""
    from collector.bench.server import ServerProcess

    server = ServerProcess(pg_url, workers=2, instance=tmp_path / "instance",
                           env={"COLLECTOR_RATE_LIMIT": "0"})
    try:
        _check_live_across_workers(server.start())
    finally:
        server.kill()  # also closes its output pipe


def _check_live_across_workers(server: Any) -> None:
    assert server.admin_password and server.write_key
    cookie = _login_cookie(server.url, server.admin_password)
    ws_url = server.url.replace("http", "ws", 1)
    with connect(ws_url + "/v1/live", additional_headers={"Cookie": cookie},
                 open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["mode"] == "postgres"
        # The dashboard's worker starts LISTEN on its first socket; a first event
        # that arrives proves it is listening.
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while not frames and time.monotonic() < deadline:
            _send_one(ws_url, server.write_key, 1)
            frames = frames_until(ws, 1, timeout=1)
        assert frames, "no live frame within 10 s"
        total = 0
        for n in range(1, 9):  # separate connections: the kernel spreads them
            _send_one(ws_url, server.write_key, n)
            total += n
        frames = frames_until(ws, total, timeout=5)
    assert sum(f["count"] for f in frames) == total


def _send_one(ws_url: str, key: str, n: int) -> None:
    with connect(f"{ws_url}/v1/ws?key={key}", open_timeout=10) as ingest:
        ingest.send(json.dumps({"id": "b", "events": [event("IMPRESSION") for _ in range(n)]}))
        assert json.loads(ingest.recv(timeout=10))["accepted"] == n
