"""Property tests of collector/events: any bytes in, a decision with reasons out, no crash."""

from __future__ import annotations

import json
import time

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.core.events.envelope import EnvelopeError, decode_envelope
from collector.core.events.explain import explain
from collector.core.events.validate import RejectedEvent, ValidEvent, validate_event
from tests.conftest import IN_CI
from tests.reliability.hostile_json import encode, json_values, mutated_events, raw_events

# CI replays a fixed sequence (no flaky runs); local runs explore new inputs each time.
FUZZ = settings(max_examples=300, deadline=None, derandomize=IN_CI,
                suppress_health_check=[HealthCheck.too_slow])
NOW = int(time.time() * 1000)


def bodies() -> st.SearchStrategy[bytes]:
    frames = st.fixed_dictionaries(
        {"events": st.lists(mutated_events() | json_values, max_size=6)},
        optional={"id": json_values, "params": json_values})
    return st.one_of(
        frames.map(encode),
        json_values.map(encode),
        st.binary(max_size=200),
        # Deep nesting, the recursive decoders' weak spot.
        st.integers(1, 3000).map(lambda n: b'{"events": [' + b"[" * n + b"]" * n + b"]}"),
        st.integers(1, 3000).map(lambda n: b"[" * n),
    )


@FUZZ
@given(bodies())
@example(b"0\x01")  # once a 500: the typed decoder saw an int before the garbage
@example(b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")
def test_envelope_decodes_or_says_why(body: bytes) -> None:
    try:
        envelope = decode_envelope(body)
    except EnvelopeError as exc:
        assert str(exc).strip(), "an unusable body needs a reason"
        return
    for raw in envelope.events:
        assert isinstance(raw, bytes)


@FUZZ
@given(raw_events())
def test_every_event_is_stored_or_rejected_with_reasons(raw: bytes) -> None:
    checked = validate_event(raw, 3, NOW)
    if isinstance(checked, RejectedEvent):
        assert checked.errors and all(isinstance(e, str) and e.strip() for e in checked.errors)
        assert checked.index == 3
        return
    assert isinstance(checked, ValidEvent)
    assert checked.mid and checked.eid and checked.actor_id
    # What is stored is JSON text (the payload column), and names the same mid.
    stored = json.loads(checked.raw.decode())
    assert stored["mid"] == checked.mid
    assert checked.ets > 0


@FUZZ
@given(raw_events())
def test_explain_lists_reasons_for_schema_failures(raw: bytes) -> None:
    reasons = explain(raw)
    assert isinstance(reasons, list) and all(isinstance(r, str) and r for r in reasons)
    checked = validate_event(raw, 0, NOW)
    if reasons:  # a schema problem the walker finds always rejects the event
        assert isinstance(checked, RejectedEvent)


@FUZZ
@given(mutated_events())
def test_validation_does_not_depend_on_key_order(value: object) -> None:
    if not isinstance(value, dict):
        return
    try:  # standard JSON only: with Infinity the error names a byte offset
        forward_raw = json.dumps(value, allow_nan=False).encode()
    except ValueError:
        return
    forward = validate_event(forward_raw, 0, NOW)
    backward = validate_event(encode(dict(reversed(list(value.items())))), 0, NOW)
    assert type(forward) is type(backward)
    if isinstance(forward, RejectedEvent) and isinstance(backward, RejectedEvent):
        if not forward.errors[0].startswith("event: not valid JSON"):  # offsets differ
            assert sorted(forward.errors) == sorted(backward.errors)


def test_event_without_mid_gets_the_same_mid_when_resent() -> None:
    body = msgspec.json.encode({"eid": "HEARTBEAT", "ets": NOW, "ver": "3.0",
                                "actor": {"id": "a", "type": "User"},
                                "context": {"channel": "c", "env": "e",
                                            "pdata": {"id": "p"}}, "edata": {}})
    first, again = validate_event(body, 0, NOW), validate_event(body, 0, NOW + 5)
    assert isinstance(first, ValidEvent) and isinstance(again, ValidEvent)
    assert first.mid == again.mid and first.mid.startswith("HEARTBEAT:")
