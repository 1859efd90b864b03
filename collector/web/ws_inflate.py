"""permessage-deflate whose inflating stops at the message size limit.

wsproto's ``PerMessageDeflate`` inflates each received chunk whole, so a 64 KiB chunk of
a compressed frame can become 64 MiB before any size check runs, and a 1 MB frame a
gigabyte. :class:`BoundedDeflate` inflates with ``max_length`` and refuses the message
once its inflated size passes the limit; :class:`BoundedInflateConnection` (the
connection object a server reads through) then reports a close with 1009, so the
server answers exactly as for an uncompressed message over the limit.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator
from typing import Any

from wsproto import WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Event
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol


class BoundedDeflate(PerMessageDeflate):
    """Inflates at most ``max_message_size + 1`` bytes per message, then swallows the rest.

    After a refusal the frame decoder keeps running (only the payload is dropped), so the
    peer's close frame that follows can still be read.
    """

    def __init__(self, max_message_size: int, **options: Any) -> None:
        super().__init__(**options)
        self.max_message_size = max_message_size
        self.inflated = 0  # bytes of the current message so far
        self.refused = False

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes,
    ) -> bytes | CloseReason:
        if self.refused:
            return b""
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        return self._inflate(bytes(data))

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool,
    ) -> bytes | CloseReason | None:
        if self.refused:
            if fin:
                self._inbound_compressed = None
            return b"" if fin else None
        if not (fin and self._inbound_compressed and self._inbound_is_compressible):
            if fin and self._inbound_is_compressible:  # not a control frame between parts
                self.inflated = 0
            return super().frame_inbound_complete(proto, fin)
        tail = self._inflate(b"\x00\x00\xff\xff")  # the end marker the sender removed
        self._inbound_compressed = None
        self.inflated = 0
        if isinstance(tail, CloseReason) or self.refused:
            return tail if isinstance(tail, CloseReason) else b""
        takeover_off = (self.server_no_context_takeover if proto.client
                        else self.client_no_context_takeover)
        if takeover_off:
            self._decompressor = None
        return tail

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        assert self._decompressor is not None
        room = self.max_message_size - self.inflated
        try:
            out = self._decompressor.decompress(data, room + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        self.inflated += len(out)
        if self.inflated > self.max_message_size or self._decompressor.unconsumed_tail:
            self.refused = True
            self._decompressor = None  # its window is of no further use
            return b""
        return out


class BoundedInflateConnection:
    """A ``WSConnection`` that accepts permessage-deflate as :class:`BoundedDeflate`.

    Offered to a server as its ``ws``: on the accept it swaps in the bounded extension;
    when that refuses a message, :meth:`events` ends the batch with one
    ``CloseConnection(1009)``, then passes events through again (the peer's close).
    """

    def __init__(self, connection: WSConnection, max_message_size: int) -> None:
        self._connection = connection
        self.deflate = BoundedDeflate(max_message_size)
        self._close_reported = False

    @property
    def refused(self) -> bool:
        return self.deflate.refused

    def send(self, event: Event) -> bytes:
        if isinstance(event, AcceptConnection):
            event = dataclasses.replace(event, extensions=[
                self.deflate if isinstance(ext, PerMessageDeflate) else ext
                for ext in event.extensions])
        return self._connection.send(event)

    def events(self) -> Iterator[Event]:
        for event in self._connection.events():
            if self.deflate.refused and not self._close_reported:
                self._close_reported = True
                yield CloseConnection(CloseReason.MESSAGE_TOO_BIG, "Message is too big")
                return
            yield event
        if self.deflate.refused and not self._close_reported:
            self._close_reported = True
            yield CloseConnection(CloseReason.MESSAGE_TOO_BIG, "Message is too big")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)
