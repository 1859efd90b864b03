"""Epoch times as text, safe for any stored value.

Rows stored before ingest refused far-future times (or written by other tools) may hold
times no ``datetime`` can represent; they are shown as the raw number instead of
failing the whole page.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(ms: int | float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Epoch milliseconds as UTC text in ``fmt``, or ``"<ms> ms (out of range)"``."""
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime(fmt)
    except (ValueError, OverflowError, OSError):
        return f"{ms} ms (out of range)"
