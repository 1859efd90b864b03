"""The WebSocket server class flask-sock uses, with a proper closing handshake on 1009.

simple-websocket closes the TCP connection right after refusing an oversized message.
The rest of that message is still arriving, so the kernel answers with a reset and the
client loses the 1009 close frame (it sees an abnormal closure instead). This subclass
keeps reading, and discarding, until the client's own close frame arrives (bounded in
time and bytes), so clients reliably get close code 1009.
"""

from __future__ import annotations

import time

from simple_websocket import Server
from wsproto.events import CloseConnection
from wsproto.utilities import LocalProtocolError

DRAIN_SECONDS = 5.0
DRAIN_MAX_BYTES = 64 * 1024 * 1024


class ClosingHandshakeServer(Server):
    """simple_websocket.Server that drains after sending close 1009 (message too big)."""

    def _handle_events(self) -> bool:
        keep_going: bool = super()._handle_events()
        limit = self.max_message_size
        if not keep_going and limit and self.incoming_message_len > limit:
            self._drain_until_peer_close()
        return keep_going

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
