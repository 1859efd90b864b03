"""Counts for ``collector stats`` and the dashboard header."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from collector.outbound.outbox import outbox_counts
from collector.storage.models import DuplicateReceipt, Event, RejectedEvent, SessionLink


def collect_stats(engine: Engine) -> dict[str, Any]:
    """``{"events", "rejected", "duplicates", "sessions"}`` and the forwarding counts
    (``xapi_pending``, ``xapi_sent``, ...: see collector.outbound.outbox), as integers."""

    with engine.connect() as conn:
        return {
            "events": conn.scalar(select(func.count()).select_from(Event)) or 0,
            "rejected": conn.scalar(select(func.count()).select_from(RejectedEvent)) or 0,
            "duplicates": conn.scalar(select(func.count()).select_from(DuplicateReceipt)) or 0,
            "sessions": conn.scalar(select(func.count()).select_from(SessionLink)) or 0,
            **outbox_counts(conn),
        }
