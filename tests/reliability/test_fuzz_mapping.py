"""Property tests of the mappers: any event in, a valid statement or a Skip with a reason.

Statements produced from mutated events must still pass the strict validators the
mapping tests use (ralph's models per example, Learning Locker's validator once for
everything collected), and the JSON fast path (export, forwarding) must agree with the
dict reading on every input.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.core.mapping import MappingContext, Skip
from collector.core.mapping.caliper import (
    caliper_envelope,
    caliper_events,
    caliper_events_from_json,
)
from collector.core.mapping.xapi import xapi_statement, xapi_statement_from_json
from tests.conftest import IN_CI
from tests.mapping.validators import caliper_problems, ralph_problems, xapi_problems
from tests.reliability.hostile_json import MAPPED_BASES, json_values, mutated_events

# CI replays a fixed sequence (no flaky runs); local runs explore new inputs each time.
FUZZ = settings(max_examples=250, deadline=None, database=None, derandomize=IN_CI,
                suppress_health_check=[HealthCheck.too_slow])
CONTEXTS = st.builds(MappingContext, public_url=st.sampled_from(
    ["http://localhost", "https://collector.example.org"]),
    chain_root=st.none() | st.text(max_size=20), duplicate=st.booleans())
# Mostly lesson events with one or two changes (they still map, so the statements get
# checked), some anything-goes events and arbitrary JSON.
events = st.one_of(mutated_events(MAPPED_BASES, 1), mutated_events(MAPPED_BASES, 1),
                   mutated_events(MAPPED_BASES, 2), mutated_events(), json_values)


def as_stored(ev: Any) -> bytes | None:
    """The JSON a stored payload would hold; None when ingest could never store it."""
    try:
        return json.dumps(ev, allow_nan=False).encode()
    except ValueError:  # Infinity: not JSON, refused at ingest
        return None


def _skip_ok(skip: Skip) -> None:
    assert skip.code and skip.reason, "a Skip must say why"


def test_statements_of_mutated_events_are_valid_xapi() -> None:
    produced: list[dict[str, Any]] = []

    @FUZZ
    @given(events, CONTEXTS)
    def mapped(ev: Any, context: MappingContext) -> None:
        statement = xapi_statement(ev, context)
        raw = as_stored(ev)
        if raw is not None:
            from_json = xapi_statement_from_json(raw, context)
            # Same statement either way (the reasons of a Skip may differ: a lone surrogate
            # is a str to the dict reading but invalid JSON to the decoder).
            assert type(statement) is type(from_json), (statement, from_json)
            if not isinstance(statement, Skip):
                assert statement == from_json, "the JSON fast path disagrees with the dict"
        if isinstance(statement, Skip):
            _skip_ok(statement)
            return
        assert ralph_problems(statement) == []
        if len(produced) < 400:
            produced.append(statement)

    mapped()
    assert len(produced) >= 25, f"only {len(produced)} statements: the strategy is too hostile"
    problems = {i: p for i, p in enumerate(xapi_problems(produced)) if p}
    assert not problems, [(produced[i], p) for i, p in list(problems.items())[:3]]


@FUZZ
@given(events, CONTEXTS)
def test_caliper_events_of_mutated_events_are_valid(ev: Any, context: MappingContext) -> None:
    mapped = caliper_events(ev, context)
    raw = as_stored(ev)
    if raw is not None:
        from_json = caliper_events_from_json(raw, context)
        assert type(mapped) is type(from_json), (mapped, from_json)
        if not isinstance(mapped, Skip):
            assert mapped == from_json
    if isinstance(mapped, Skip):
        _skip_ok(mapped)
        return
    assert mapped
    assert caliper_problems(caliper_envelope(mapped, context.public_url, 1_763_000_000_000)) == []


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_stored_payloads_that_are_not_json_are_skipped(raw: bytes | str) -> None:
    for result in (xapi_statement_from_json(raw, MappingContext()),
                   caliper_events_from_json(raw, MappingContext())):
        if isinstance(result, Skip):
            _skip_ok(result)
