"""Splitting bodies/frames into raw events, and unusable bodies."""

from __future__ import annotations

import msgspec
import pytest

from collector.core.events.envelope import EnvelopeError, decode_envelope
from tests.factories import event


def test_events_are_kept_as_received_bytes() -> None:
    ev = b'{"eid": "IMPRESSION",  "x": [1, 2]}'
    env = decode_envelope(b'{"id": "b1", "events": [' + ev + b", 5]}")
    assert env.events == [ev, b"5"] and env.batch_id == "b1"


def test_sunbird_request_shape_gives_msgid() -> None:
    body = msgspec.json.encode({"id": "api.sunbird.telemetry", "ver": "3.0",
                                "params": {"msgid": "abc"}, "events": [event()]})
    env = decode_envelope(body)
    assert env.msgid == "abc" and len(env.events) == 1


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "body is not valid JSON"),
    (b"[1, 2]", 'body must be a JSON object with an "events" list, got a list'),
    (b'"text"', 'body must be a JSON object with an "events" list, got a string'),
    (b'{"id": "b2"}', '"events": required (a list of Telemetry V3 events)'),
    (b'{"id": "b3", "events": {"eid": "START"}}', '"events": expected a list, got an object'),
    (b'{"events": "x"}', '"events": expected a list, got a string'),
])
def test_unusable_bodies_say_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(body)
    assert str(info.value).startswith(message)


def test_batch_id_is_echoed_on_envelope_errors() -> None:
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(b'{"id": "b3", "events": 7}')
    assert info.value.batch_id == "b3"


def test_deep_nesting_keeps_the_siblings() -> None:
    good = msgspec.json.encode(event())
    deep = b'{"eid": "LOG", "x": ' + b"[" * 20000 + b"]" * 20000 + b"}"
    body = b'{"id": "b4", "events": [' + good + b", " + deep + b", " + good + b"]}"
    env = decode_envelope(body)
    assert env.batch_id == "b4"
    assert env.events == [good, deep, good]


def test_deep_nesting_of_a_non_object_body() -> None:
    with pytest.raises(EnvelopeError):
        decode_envelope(b"[" * 20000 + b"]" * 20000)


DEEP = b'{"eid": "LOG", "x": ' + b"[" * 20000 + b"]" * 20000 + b"}"


def test_deep_nesting_keeps_an_id_sent_after_the_events() -> None:
    good = msgspec.json.encode(event())
    body = b'{"events": [' + good + b", " + DEEP + b'], "id": "late"}'
    env = decode_envelope(body)
    assert env.batch_id == "late" and env.events == [good, DEEP]


def test_deep_nesting_reads_the_sunbird_msgid() -> None:
    body = (b'{"params": {"msgid": "m-7"}, "events": [' + DEEP + b'], "id": 5, "ver": "3.0"}')
    env = decode_envelope(body)
    assert (env.batch_id, env.msgid, env.events) == (5, "m-7", [DEEP])


@pytest.mark.parametrize("events", [b'"nope"', b"{}", b"7", b"null"])
def test_deep_nesting_with_events_not_a_list_is_an_error(events: bytes) -> None:
    body = b'{"id": "b9", "events": ' + events + b', "deep": ' + DEEP + b"}"
    with pytest.raises(EnvelopeError, match='"events": expected a list') as info:
        decode_envelope(body)
    assert info.value.batch_id == "b9"


def test_deep_nesting_without_events_is_an_error() -> None:
    with pytest.raises(EnvelopeError, match='"events": required'):
        decode_envelope(b'{"id": "b8", "deep": ' + DEEP + b"}")
