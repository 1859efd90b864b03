"""The statistics behind the learning reports, written once so every reader agrees."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Variances below this share of the raw sum of squares are float noise: treat as zero.
_NOISE = 1e-9


def median(values: Sequence[float]) -> float | None:
    """The middle value; the mean of the two middle values for an even count."""
    if not values:
        return None
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[half])
    return ordered[half - 1] / 2 + ordered[half] / 2  # no overflow near the float limit


def median_of_counts(counts: Sequence[tuple[float, int]]) -> float | None:
    """:func:`median` of a multiset given as (value, how many times) pairs."""
    ordered = sorted((v, n) for v, n in counts if n > 0)
    total = sum(n for _, n in ordered)
    if not total:
        return None
    lo, hi = (total - 1) // 2, total // 2  # 0-based ranks of the middle value(s)
    seen = 0
    low = high = None
    for value, n in ordered:
        if low is None and lo < seen + n:
            low = value
        if hi < seen + n:
            high = value
            break
        seen += n
    assert low is not None and high is not None
    return low / 2 + high / 2


def pearson_from_sums(n: int, sx: float, sy: float, sxx: float, syy: float,
                      sxy: float) -> float | None:
    """Pearson's r from the sums over n pairs; None when either side does not vary."""
    if n < 2:
        return None
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    if vx <= _NOISE * max(n * sxx, 1e-300) or vy <= _NOISE * max(n * syy, 1e-300):
        return None
    r = (n * sxy - sx * sy) / math.sqrt(vx * vy)
    return max(-1.0, min(1.0, r))


def rounded(value: float | None, digits: int = 4) -> float | None:
    """``value`` rounded for reports; None when absent or not finite (JSON has no NaN)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)
