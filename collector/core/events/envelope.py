"""Split a request body or WebSocket frame into its raw events without re-serializing them.

Accepted shapes: ``{"id": ..., "events": [...]}`` (WebSocket frame, plain HTTP) and the
Sunbird request ``{"id": "api.sunbird.telemetry", "ver": "3.0", "params": {"msgid": ...},
"events": [...]}``. Each event is kept as the exact bytes received.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec


class EnvelopeError(ValueError):
    """The body is unusable as a whole (not JSON, not an object, no ``events`` list)."""

    def __init__(self, message: str, batch_id: Any = None) -> None:
        super().__init__(message)
        self.batch_id = batch_id


class _Frame(msgspec.Struct):
    events: list[msgspec.Raw]
    id: Any = None
    params: Any = None


@dataclass(slots=True)
class Envelope:
    events: list[bytes]
    batch_id: Any = None
    msgid: Any = None


_frame_decoder = msgspec.json.Decoder(_Frame)
_any_decoder = msgspec.json.Decoder()


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def decode_envelope(body: bytes) -> Envelope:
    """Return the events of ``body``; raise :class:`EnvelopeError` if it is unusable."""
    try:
        frame = _frame_decoder.decode(body)
    except RecursionError:
        return _split_deep(body)
    except msgspec.ValidationError:
        raise _explain_frame(body) from None
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"body is not valid JSON: {exc}") from None
    msgid = frame.params.get("msgid") if isinstance(frame.params, dict) else None
    return Envelope([bytes(e) for e in frame.events], frame.id, msgid)


def _explain_frame(body: bytes) -> EnvelopeError:
    try:
        value = _any_decoder.decode(body)
    except RecursionError:
        # Too deep to decode: the iterative splitter names what is wrong (and the id).
        try:
            _split_deep(body)
        except EnvelopeError as exc:
            return exc
        return EnvelopeError('"events": expected a list of events (body nested too deeply)')
    except msgspec.DecodeError as exc:
        # The typed decoder can refuse the shape before it reaches a syntax error
        # (``0\x01``: an int, then garbage); the generic one then sees the syntax error.
        return EnvelopeError(f"body is not valid JSON: {exc}")
    if not isinstance(value, dict):
        return EnvelopeError(
            f'body must be a JSON object with an "events" list, got {_kind(value)}')
    batch_id = value.get("id")
    if "events" not in value:
        return EnvelopeError('"events": required (a list of Telemetry V3 events)', batch_id)
    return EnvelopeError(f'"events": expected a list, got {_kind(value["events"])}', batch_id)


# Tokens of JSON that matter for nesting: strings (skipped whole) and punctuation.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def _split_deep(body: bytes) -> Envelope:
    """Iterative split for frames too deeply nested for the recursive decoder.

    Finds the top-level members (``events``, ``id``, ``params`` in any order) and returns
    the elements of ``events`` as raw bytes so that one pathological event is rejected on
    its own and its siblings are still stored.
    """
    depth = 0
    key: bytes | None = None
    expect_key = False
    value_start = -1
    members: dict[bytes, bytes] = {}  # top-level key token -> its value's bytes
    events: list[bytes] = []
    in_events = False
    start = -1

    def close_member(end: int) -> None:
        if key is not None and value_start >= 0:
            members[key] = body[value_start:end].strip()

    for match in _TOKEN.finditer(body):
        tok = match.group()
        first = tok[:1]
        if first == b"{" or first == b"[":
            if depth == 0 and first != b"{":
                raise EnvelopeError('body must be a JSON object with an "events" list')
            depth += 1
            if depth == 1:
                expect_key = True
            elif (depth == 2 and key == b'"events"' and first == b"["
                  and not body[value_start:match.start()].strip()):
                in_events = True
                events = []
                start = match.end()
        elif first == b"}" or first == b"]":
            if in_events and depth == 2:
                chunk = body[start:match.start()].strip()
                if chunk:
                    events.append(chunk)
                in_events = False
            depth -= 1
            if depth == 0:
                close_member(match.start())
        elif first == b",":
            if in_events and depth == 2:
                events.append(body[start:match.start()].strip())
                start = match.end()
            elif depth == 1:
                close_member(match.start())
                expect_key = True
                value_start = -1
        elif first == b":":
            if depth == 1:
                value_start = match.end()
        elif depth == 1 and expect_key:
            key = tok
            expect_key = False
    if depth != 0:
        raise EnvelopeError("body is not valid JSON: unbalanced brackets")
    batch_id = _small_value(members[b'"id"']) if b'"id"' in members else None
    value = members.get(b'"events"')
    if value is None:
        raise EnvelopeError('"events": required (a list of Telemetry V3 events)', batch_id)
    if value[:1] != b"[":
        raise EnvelopeError(f'"events": expected a list, got {_kind_of_bytes(value)}',
                            batch_id)
    params = _small_value(members.get(b'"params"', b"null"))
    msgid = params.get("msgid") if isinstance(params, dict) else None
    return Envelope(events, batch_id, msgid)


def _kind_of_bytes(value: bytes) -> str:
    """What a JSON value is, from its first byte (it may be too deep to decode)."""
    return {b"{": "an object", b'"': "a string", b"t": "a boolean", b"f": "a boolean",
            b"n": "null"}.get(value[:1], "a number")


def _small_value(chunk: bytes) -> Any:
    try:
        return _any_decoder.decode(chunk.strip())
    except (msgspec.DecodeError, RecursionError):
        return None
