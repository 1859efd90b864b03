"""Epoch milliseconds as ISO 8601 text: one format for statements, catalog and reports."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from collector.core.isotime import iso_timestamp


def test_milliseconds_in_utc_with_the_zone() -> None:
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert iso_timestamp(1_763_892_000_123) == "2025-11-23T10:00:00.123Z"
    assert iso_timestamp(253_402_300_799_999) == "9999-12-31T23:59:59.999Z"
    assert iso_timestamp(None) is None


def test_exact_to_the_millisecond_where_a_float_would_round() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        ms = rng.randrange(0, 253_402_300_800_000)
        stamp = datetime.strptime(iso_timestamp(ms), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        whole = stamp - datetime(1970, 1, 1, tzinfo=UTC)
        assert whole.days * 86_400_000 + whole.seconds * 1000 + whole.microseconds // 1000 == ms
