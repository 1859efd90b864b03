"""A permessage-deflate frame is bounded while it inflates, not after.

Checked against ``collector serve`` (gunicorn): a 1 MB frame that inflates to 1 GiB is
refused with close 1009 at once and the worker's memory barely moves; ordinary
compressed frames (what browsers and the ``websockets`` client send) still work.
"""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request
from wsproto.extensions import PerMessageDeflate

from collector.bench.server import ServerProcess
from collector.bench.soak import ServerSampler
from tests.factories import event

INFLATED = 1 << 30  # 1 GiB of spaces once inflated


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp: Path = tmp_path_factory.mktemp("deflate")
    with ServerProcess(f"sqlite:///{tmp}/c.sqlite3", instance=tmp / "instance") as server:
        yield server


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A permessage-deflate payload of about 1 MB that inflates to 1 GiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b" " * (1 << 24)
    parts = [compressor.compress(chunk) for _ in range(INFLATED // len(chunk))]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    payload = b"".join(parts)
    assert payload.endswith(b"\x00\x00\xff\xff")
    return payload[:-4]


def _frame(payload: bytes) -> bytes:
    """One final text frame with RSV1 (compressed), masked with a zero key."""
    header = bytes([0xC1, 0x80 | 127]) + len(payload).to_bytes(8, "big") + b"\0\0\0\0"
    return header + payload


def _open_deflate_socket(server: ServerProcess) -> tuple[socket.socket, WSConnection]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=f"127.0.0.1:{server.port}",
                                 target=f"/v1/ws?key={server.write_key}",
                                 extensions=[PerMessageDeflate()])))
    while True:
        ws.receive_data(sock.recv(4096))
        for ev in ws.events():
            assert isinstance(ev, AcceptConnection), ev
            assert ev.extensions, "the server did not negotiate permessage-deflate"
            return sock, ws


def _close_code(sock: socket.socket, ws: WSConnection, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        if not data:
            return None
        ws.receive_data(data)
        for ev in ws.events():
            if isinstance(ev, CloseConnection):
                return int(ev.code)
    return None


def test_deflate_bomb_is_refused_with_1009(served: ServerProcess, bomb: bytes) -> None:
    assert served.proc is not None
    sampler = ServerSampler(served.proc.pid)
    before, _ = sampler.snapshot()
    for _ in range(4):
        sock, ws = _open_deflate_socket(served)
        started = time.monotonic()
        try:
            sock.sendall(_frame(bomb))
        except OSError:
            pass  # the server may close before the whole frame is written
        code = _close_code(sock, ws, timeout=10)
        elapsed = time.monotonic() - started
        sock.close()
        assert code == 1009, f"closed with {code}"
        assert elapsed < 5, f"refused after {elapsed:.1f}s"
    peak = sampler.peak_rss_mb()  # high-water mark of the server's processes
    assert peak - before < 50, f"server RSS peaked {peak - before:.0f} MB above {before:.0f}"


def test_ordinary_compressed_frames_still_work(served: ServerProcess) -> None:
    url = served.url.replace("http", "ws", 1) + f"/v1/ws?key={served.write_key}"
    with connect(url, open_timeout=10) as ws:  # negotiates permessage-deflate by default
        assert ws.protocol.extensions, "permessage-deflate was not negotiated"
        for i in range(3):
            batch = [event(actor=f"deflate-{i}", tags=["x" * 2000]) for _ in range(50)]
            ws.send(json.dumps({"id": i, "events": batch}))
            ack = json.loads(ws.recv(timeout=30))
            assert ack["accepted"] == 50, ack
