"""WebSocket door ``GET /v1/ws?key=KEY``: batches in, acks out after commit.

Frames are pipelined: while earlier batches of a connection are being committed by the
writer, the next frames are already decoded and validated. Acks go out in frame order,
each only after its batch is committed.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

from flask import Blueprint, current_app, request

from collector.core.events.envelope import EnvelopeError
from collector.ingest import protocol
from collector.ingest.pipeline import PendingIngest, get_pipeline
from collector.ingest.ratelimit import RateLimited
from collector.storage.engine import StorageUnavailable
from collector.storage.sites import get_directory
from collector.web.hardening import reads_raw_body
from collector.web.origins import own_origin
from collector.web.sockets import sock
from collector.web.ws_slots import CLOSE_TOO_MANY, get_slots

log = logging.getLogger(__name__)
bp = reads_raw_body(Blueprint("ingest_ws", __name__))

CLOSE_GOING_AWAY = 1001  # idle for WS_IDLE_SECONDS
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455 registry: the database is unavailable
CLOSE_BAD_KEY = 4401
CLOSE_BAD_ORIGIN = 4403
MAX_IN_FLIGHT = 16  # frames of one connection being committed at once


def _send(ws: Any, frame: dict[str, Any]) -> None:
    ws.send(json.dumps(frame, separators=(",", ":")))


@sock.route("/v1/ws", bp=bp)
def ingest_socket(ws: Any) -> None:
    address = request.remote_addr or ""
    slots = get_slots()
    refused = slots.acquire(address, current_app.config.get("WS_MAX_SOCKETS") or 0,
                            current_app.config["WS_MAX_PER_ADDRESS"])
    if refused is not None:
        ws.close(CLOSE_TOO_MANY, refused)
        return
    try:
        _serve_socket(ws, address)
    finally:
        slots.release(address)


def _serve_socket(ws: Any, address: str) -> None:
    try:
        site = get_directory().authenticate(request.args.get("key"))
    except StorageUnavailable:
        ws.close(CLOSE_TRY_AGAIN_LATER, "database unavailable; reconnect later")
        return
    if site is None:
        ws.close(CLOSE_BAD_KEY, "unknown write key")
        return
    if not site.allows_origin(request.headers.get("Origin"), own_origin()):
        ws.close(CLOSE_BAD_ORIGIN, "origin not allowed for this site")
        return
    pipeline = get_pipeline()
    idle_seconds = current_app.config["WS_IDLE_SECONDS"]
    pending: deque[PendingIngest] = deque()
    while True:
        data = ws.receive(timeout=0 if pending else idle_seconds)
        if data is None and not pending:  # idle: give the thread back; clients reconnect
            ws.close(CLOSE_GOING_AWAY, "idle; reconnect to send more")
            return
        if data is None:  # nothing new: wait for the oldest commit and ack it
            _ack(ws, pending.popleft())
            continue
        body = data.encode() if isinstance(data, str) else data
        try:
            pending.append(pipeline.submit_body(site, body, transport="ws", address=address))
        except EnvelopeError as exc:
            _flush(ws, pending)
            _send(ws, protocol.error_frame(_json_safe(exc.batch_id), protocol.INVALID_REQUEST,
                                           str(exc)))
        except RateLimited as exc:
            _flush(ws, pending)
            _send(ws, protocol.error_frame(_json_safe(exc.batch_id), protocol.RATE_LIMITED,
                                           str(exc), exc.retry_after_ms))
        while pending and (pending[0].done() or len(pending) >= MAX_IN_FLIGHT):
            _ack(ws, pending.popleft())


def _flush(ws: Any, pending: deque[PendingIngest]) -> None:
    """Ack everything in flight first so frames are answered in order."""
    while pending:
        _ack(ws, pending.popleft())


def _ack(ws: Any, item: PendingIngest) -> None:
    try:
        result = item.result()
    except StorageUnavailable:
        _send(ws, protocol.error_frame(
            _json_safe(item.batch_id), protocol.STORAGE_UNAVAILABLE,
            "storage unavailable: batch not stored, send it again"))
        return
    frame = result.ack()
    frame["id"] = _json_safe(frame["id"])
    _send(ws, frame)


def _json_safe(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)
