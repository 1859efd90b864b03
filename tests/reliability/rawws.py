"""A raw-socket WebSocket client (wsproto) with control over its buffers and reading.

The ``websockets`` client reads in a background thread; a misbehaving client that sends
without ever reading needs the socket itself.
"""

from __future__ import annotations

import select
import socket
import time

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage


class RawWebSocket:
    """One client connection; ``push`` writes frames without blocking, nothing reads."""

    def __init__(self, port: int, path: str, *, rcvbuf: int = 4096,
                 origin: str | None = None) -> None:
        self.sock = socket.socket()
        # Small buffers before connect: the window is then small from the start.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        headers = [(b"Origin", origin.encode())] if origin else []
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}", target=path,
                                               extra_headers=headers)))
        self._handshake()
        self.sock.setblocking(False)
        self.pushed = 0

    def _handshake(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.ws.receive_data(self.sock.recv(4096))
            for event in self.ws.events():
                if isinstance(event, AcceptConnection):
                    return
                raise AssertionError(f"handshake refused: {event!r}")
        raise AssertionError("no handshake answer")

    def frame(self, text: str) -> bytes:
        return self.ws.send(TextMessage(data=text))

    def push(self, data: bytes, stall_after: float) -> bool:
        """Write ``data``; False once no byte could be written for ``stall_after`` s."""
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                sent = 0
            if sent:
                view = view[sent:]
                self.pushed += sent
                continue
            poller = select.poll()
            poller.register(self.sock, select.POLLOUT)
            if not poller.poll(int(stall_after * 1000)):
                return False
        return True

    def wait_dropped(self, timeout: float) -> bool:
        """True once the server has reset or closed the connection (without reading it)."""
        poller = select.poll()
        poller.register(self.sock, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
        return bool(poller.poll(int(timeout * 1000)))

    def close(self) -> None:
        self.sock.close()
