"""Idle WebSockets cannot take every server thread: ``/health`` keeps answering.

Each open WebSocket holds one of gunicorn's threads. ``collector serve`` keeps some
threads for plain HTTP (WebSockets beyond the rest are closed with 4429), caps the
sockets of one client address (``COLLECTOR_WS_MAX_PER_ADDRESS``) and closes ingest
sockets that send nothing for ``COLLECTOR_WS_IDLE_SECONDS`` (1001; the tracker
reconnects when it has something to send).
"""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from collector.bench.server import ServerProcess

THREADS = 48


def _serve(tmp: Path, **env: str) -> ServerProcess:
    return ServerProcess(f"sqlite:///{tmp}/c.sqlite3", instance=tmp / "instance",
                         threads=THREADS, env=env)


def _raw_upgrade(server: ServerProcess) -> socket.socket:
    """A socket that asks for the upgrade and then never sends a frame."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /v1/ws?key={server.write_key} HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


def _health_seconds(server: ServerProcess) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(server.url + "/health", timeout=5) as resp:
        assert resp.status == 200
    return time.monotonic() - started


@pytest.fixture
def idle_sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def test_idle_sockets_from_one_address_leave_health_answering(
        tmp_path: Path, idle_sockets: list[socket.socket]) -> None:
    with _serve(tmp_path) as server:
        for _ in range(THREADS + 16):
            idle_sockets.append(_raw_upgrade(server))
        # Wait until the server has taken them in (each answered, or all threads busy).
        deadline = time.monotonic() + 5
        for sock in idle_sockets:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                sock.recv(1024)
            except TimeoutError:
                pass
        assert _health_seconds(server) < 1.0
        for _ in range(5):
            assert _health_seconds(server) < 1.0


def _open(server: ServerProcess) -> ClientConnection:
    url = server.url.replace("http", "ws", 1) + f"/v1/ws?key={server.write_key}"
    return connect(url, open_timeout=10)


def _close_code(ws: ClientConnection, timeout: float) -> int | None:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=timeout)
    return info.value.rcvd.code if info.value.rcvd is not None else None


def test_sockets_per_address_are_capped(tmp_path: Path) -> None:
    with _serve(tmp_path, COLLECTOR_WS_MAX_PER_ADDRESS="5") as server, ExitStack() as kept:
        first = kept.enter_context(_open(server))
        for _ in range(4):
            kept.enter_context(_open(server))
        with _open(server) as refused:
            assert _close_code(refused, timeout=10) == 4429
        first.close()  # a slot freed is a slot usable again
        deadline = time.monotonic() + 10
        while True:
            with _open(server) as ws:
                try:
                    ws.send('{"id": 1, "events": []}')
                    assert '"accepted":0' in str(ws.recv(timeout=10))
                    break
                except ConnectionClosed:
                    assert time.monotonic() < deadline, "the freed slot never came back"


def test_idle_ingest_socket_is_closed(tmp_path: Path) -> None:
    with _serve(tmp_path, COLLECTOR_WS_IDLE_SECONDS="1") as server, _open(server) as ws:
        ws.send('{"id": 1, "events": []}')
        ws.recv(timeout=10)
        started = time.monotonic()
        assert _close_code(ws, timeout=10) == 1001
        assert time.monotonic() - started < 5
