"""The WebSocket server class flask-sock uses: bounded in time and memory per connection.

simple-websocket (which flask-sock builds on) has three gaps this subclass closes:

- **Closing handshake on 1009.** It closes the TCP connection right after refusing an
  oversized message; the rest of that message is still arriving, so the kernel answers
  with a reset and the client loses the 1009 close frame. We keep reading, and
  discarding, until the client's own close frame arrives (bounded in time and bytes).
- **Unbounded input buffer.** Its background thread reads the socket as fast as data
  arrives and appends every frame to ``input_buffer``, whether or not the handler takes
  them. A client that sends faster than its batches commit (or that stops reading its
  acks, which parks the handler in ``send``) would grow the server's memory without
  limit. We stop reading the socket while ``max_buffered_frames`` frames or
  ``max_buffered_bytes`` bytes wait, so TCP flow control pushes back on the client.
- **Inflating without bound.** It accepts permessage-deflate and inflates each chunk
  whole before checking the message size; here the limit applies while inflating
  (:mod:`collector.web.ws_inflate`) and such a message is refused with 1009 too.
- **Sends that block forever.** ``send`` writes to a blocking socket; a client that
  never reads fills the socket buffers and the handler thread (one of gunicorn's) hangs.
  Every send here must make progress within ``send_timeout`` seconds, else the
  connection is dropped (the client resends what was not acked, as tracker.js does).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from typing import Any

from simple_websocket import ConnectionClosed, Server
from wsproto.events import CloseConnection
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError

from collector.web.ws_inflate import BoundedInflateConnection

log = logging.getLogger(__name__)

DRAIN_SECONDS = 5.0
CLOSE_LINGER = 1.0  # seconds a served peer has to answer our close frame
DRAIN_MAX_BYTES = 64 * 1024 * 1024
SEND_TIMEOUT = 30.0
MAX_BUFFERED_FRAMES = 32
MAX_BUFFERED_BYTES = 4 * 1024 * 1024
_ROOM_POLL = 0.5  # seconds between checks that a paused connection is still open


class SendTimeout(OSError):
    """A send made no progress for the connection's send timeout: the peer stopped reading."""


class SendBoundedSocket:
    """A connection's socket whose sends are serialized and bounded in time.

    simple-websocket sends from two threads (the handler's frames, the reader's pongs
    and pings) with plain ``sock.send``, which may also write only part of a frame.
    Here each send writes the whole buffer under a lock, without changing the socket's
    own timeout (the reader thread blocks in ``recv`` on the same socket), and raises
    :class:`SendTimeout` once no byte could be written for ``timeout`` seconds.
    """

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._lock = threading.Lock()
        self.stuck = False

    def send(self, data: bytes) -> int:
        with self._lock:
            if self.stuck:
                raise SendTimeout("connection dropped after a send timeout")
            view = memoryview(data)
            deadline = time.monotonic() + self._timeout
            while view:
                try:
                    sent = self._sock.send(view, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError, TimeoutError):
                    sent = 0  # TimeoutError: a socket left with a timeout of its own
                if sent:
                    view = view[sent:]
                    deadline = time.monotonic() + self._timeout  # progress resets the clock
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not _wait_writable(self._sock, remaining):
                    self.stuck = True
                    self._abort()
                    raise SendTimeout(f"peer read nothing for {self._timeout:g}s")
            return len(data)

    def sendall(self, data: bytes) -> None:
        self.send(data)

    def _abort(self) -> None:
        # Wakes the reader thread out of recv(); it then closes the socket itself.
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _wait_writable(sock: socket.socket, seconds: float) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    return bool(poller.poll(max(1, int(min(seconds, 3600.0) * 1000))))


class ClosingHandshakeServer(Server):
    """simple_websocket.Server with backpressure, a send timeout and a proper 1009 close.

    Extra options (``SOCK_SERVER_OPTIONS``): ``send_timeout`` (seconds),
    ``max_buffered_frames`` and ``max_buffered_bytes`` (received frames waiting for
    the handler before the socket is no longer read).
    """

    def __init__(self, environ: dict[str, Any], *, send_timeout: float = SEND_TIMEOUT,
                 max_buffered_frames: int = MAX_BUFFERED_FRAMES,
                 max_buffered_bytes: int = MAX_BUFFERED_BYTES, **options: Any) -> None:
        # Set before super().__init__: it runs the handshake and starts the reader thread.
        self.send_timeout = send_timeout
        self.max_buffered_frames = max(1, max_buffered_frames)
        self.max_buffered_bytes = max(1, max_buffered_bytes)
        self._room = threading.Condition()
        self.received_any = False  # the handler got a message (see finish)
        self.draining = False  # the reader refused a message and reads until the close
        self.dropped = False  # the handler gave up on a peer that stopped reading
        super().__init__(environ, **options)

    def handshake(self) -> None:
        raw: socket.socket = self.sock  # type: ignore[has-type]  # set by Base.__init__
        self.sock = SendBoundedSocket(raw, self.send_timeout)
        if self.max_message_size:
            connection: Any = self.ws  # type: ignore[has-type]  # set by Base.__init__
            self.ws = BoundedInflateConnection(connection, self.max_message_size)
        super().handshake()

    def send(self, data: Any) -> None:
        """Send a message; a peer that stopped reading gets dropped (ConnectionClosed)."""
        try:
            super().send(data)
        except SendTimeout as exc:
            self.dropped = True
            self.connected = False
            self.close_reason = CloseReason.ABNORMAL_CLOSURE
            self.event.set()
            log.warning("websocket: dropped a client that stopped reading (%s)", exc)
            raise ConnectionClosed(self.close_reason, str(exc)) from None

    def close(self, reason: Any = None, message: Any = None) -> None:
        if isinstance(self.sock, SendBoundedSocket) and self.sock.stuck:
            self.connected = False  # no close frame can reach a peer that does not read
            return
        super().close(reason, message)

    def finish(self) -> None:
        """After the handler: let the reader thread end, bounded, and close the socket.

        The reader ends once the peer answers the close (or it finishes writing its own
        close frame and draining a refused message, which it wakes the handler before
        doing). A peer that never answers is cut off after ``CLOSE_LINGER`` seconds, at
        once if it never sent a message (a connection refused at connect). The socket is
        closed here, in the handler's thread: gunicorn would otherwise linger on it in
        its main loop, where one silent peer stalls every other connection.
        """
        reader = getattr(self, "thread", None)
        if reader is not None and reader is not threading.current_thread():
            reader_closing = self.close_reason != CloseReason.NO_STATUS_RCVD
            served = self.received_any or self.draining or reader_closing
            reader.join(CLOSE_LINGER if served else 0)
            if self.draining:
                reader.join(DRAIN_SECONDS + 1)
            if reader.is_alive():
                self._shutdown()
                reader.join(1.0)
        try:
            self.sock.close()
        except OSError:
            pass

    def _shutdown(self) -> None:
        try:  # wakes the reader out of recv()/select(); it then closes the socket
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def receive(self, timeout: float | None = None) -> Any:
        data = super().receive(timeout)
        if data is not None:
            self.received_any = True
            with self._room:
                self._room.notify()
        return data

    def _handle_events(self) -> bool:
        keep_going: bool = super()._handle_events()
        limit = self.max_message_size
        too_big = limit and (self.incoming_message_len > limit or (
            isinstance(self.ws, BoundedInflateConnection) and self.ws.refused))
        if not keep_going and too_big:
            self.draining = True
            self._drain_until_peer_close()
        elif keep_going:
            self._wait_for_room()
            # The handler may have dropped the peer while we waited (send timeout): the
            # reader loop assigns what we return to ``connected``, so do not revive it.
            keep_going = not self.dropped
        return keep_going

    def _buffer_full(self) -> bool:
        buffered = self.input_buffer
        return (len(buffered) >= self.max_buffered_frames
                or sum(len(m) for m in buffered) >= self.max_buffered_bytes)

    def _wait_for_room(self) -> None:
        """Runs on the reader thread: not reading the socket is the backpressure."""
        with self._room:
            while self.connected and self._buffer_full():
                self._room.wait(_ROOM_POLL)

    def _drain_until_peer_close(self) -> None:
        deadline = time.monotonic() + DRAIN_SECONDS
        received = 0
        try:
            while received < DRAIN_MAX_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.sock.settimeout(remaining)
                data = self.sock.recv(65536)
                if not data:
                    return
                received += len(data)
                self.ws.receive_data(data)
                if any(isinstance(event, CloseConnection) for event in self.ws.events()):
                    return
        except (OSError, LocalProtocolError):
            return


def server_options(max_message_size: int) -> dict[str, Any]:
    """Per-connection bounds: a client that stops reading is dropped after
    ``send_timeout``; one that sends faster than it is served is paused."""
    return {"max_message_size": max_message_size, "ping_interval": 25,
            "receive_bytes": 65536, "send_timeout": SEND_TIMEOUT,
            "max_buffered_frames": MAX_BUFFERED_FRAMES,
            "max_buffered_bytes": MAX_BUFFERED_BYTES}
