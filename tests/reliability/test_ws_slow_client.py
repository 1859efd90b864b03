"""A client that sends but never reads its acks: bounded server memory, dropped in time,
other clients served meanwhile."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from websockets.sync.client import connect

from collector.web.sockets import sock
from collector.web.wsserver import ClosingHandshakeServer, SendBoundedSocket, SendTimeout
from tests.conftest import ORIGIN, LiveServer
from tests.factories import event
from tests.reliability.rawws import RawWebSocket

SEND_TIMEOUT = 2.0
MAX_BUFFERED_BYTES = 1024 * 1024
ID_BYTES = 100_000  # the ack echoes the batch id: big acks fill the client's window fast


class RecordingServer(ClosingHandshakeServer):
    """The production class, remembering its instances so the test can weigh buffers."""

    instances: list[ClosingHandshakeServer] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RecordingServer.instances.append(self)


def buffered_bytes(ws: ClosingHandshakeServer) -> tuple[int, int]:
    """(complete messages waiting, the message being received). Each is read in one step:
    summing both at once could count a message twice, as the reader appends it to
    ``input_buffer`` a moment before it resets ``incoming_message``."""
    complete = sum(len(m) for m in list(ws.input_buffer))
    partial = ws.incoming_message
    return complete, len(partial) if partial else 0


@pytest.fixture
def bounded_server(make_app: Callable[..., Flask], sqlite_url: str,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    app = make_app(sqlite_url, SOCK_SERVER_OPTIONS={
        "max_message_size": 5 * 1024 * 1024, "send_timeout": SEND_TIMEOUT,
        "max_buffered_bytes": MAX_BUFFERED_BYTES})
    RecordingServer.instances = []
    monkeypatch.setattr(sock, "server_class", RecordingServer)
    server = LiveServer(app).start()
    yield server
    server.stop()


def test_send_timeout_raises_and_shuts_the_socket() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        bounded = SendBoundedSocket(a, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(SendTimeout):
            for _ in range(10_000):  # b never reads: a's buffers fill, then no progress
                bounded.send(b"x" * 65536)
        assert 0.25 <= time.monotonic() - started < 10
        with pytest.raises(SendTimeout):  # a stuck socket refuses at once from then on
            bounded.send(b"y")
        b.setblocking(False)
        drained = 0
        while True:  # the peer sees the end of the stream after what was buffered
            chunk = b.recv(1 << 20)
            if not chunk:
                break
            drained += len(chunk)
        assert drained > 0


def test_client_that_never_reads_is_paused_then_dropped_others_served(
        bounded_server: LiveServer) -> None:
    peak = [0, 0]  # complete messages waiting, message being received
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            for ws in list(RecordingServer.instances):
                complete, partial = buffered_bytes(ws)
                peak[0] = max(peak[0], complete)
                peak[1] = max(peak[1], partial)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    slow = RawWebSocket(bounded_server.port, f"/v1/ws?key={bounded_server.key}", origin=ORIGIN)
    try:
        frame = slow.frame(json.dumps({"id": "x" * ID_BYTES, "events": []}))
        stalled = False
        for _ in range(240):  # at most 24 MB: far above every bound if nothing pushed back
            if not slow.push(frame, stall_after=1.0):
                stalled = True
                break
        assert stalled, f"the server kept reading: {slow.pushed} bytes taken"

        # Meanwhile another client on the same server is served as usual.
        with connect(f"{bounded_server.ws_url}/v1/ws?key={bounded_server.key}",
                     additional_headers={"Origin": ORIGIN}, open_timeout=10) as ws:
            started = time.monotonic()
            ws.send(json.dumps({"id": "ok", "events": [event()]}))
            assert json.loads(ws.recv(timeout=10))["accepted"] == 1
            assert time.monotonic() - started < 5

        # The stuck connection is dropped once a send made no progress for SEND_TIMEOUT.
        assert slow.wait_dropped(timeout=SEND_TIMEOUT + 10), "stuck client never dropped"
    finally:
        sampling.set()
        sampler.join(5)
        slow.close()
    # What waited in server memory stayed near the bound: the reader stops once the
    # bound is reached, so one message over at most, plus the one being received.
    assert peak[0] <= MAX_BUFFERED_BYTES + len(frame), peak
    assert peak[1] <= len(frame), peak
    assert peak[0] >= MAX_BUFFERED_BYTES  # the sampler did see the buffer fill

