"""Fixtures of the fault tests: client load in a background thread, stored-event checks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from collector.bench.load import LoadPlan, LoadTotals, run_load
from collector.db import make_engine
from collector.models import Event, Site


class BackgroundLoad:
    """``run_load`` in a thread: the test injects faults while the clients stream."""

    def __init__(self, base_url: str, key: str, plan: LoadPlan) -> None:
        self.totals = LoadTotals()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(base_url, key, plan),
                                        name="fault-load", daemon=True)

    def _run(self, base_url: str, key: str, plan: LoadPlan) -> None:
        try:
            asyncio.run(run_load(base_url, key, plan, self.totals))
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def start(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def acked(self) -> int:
        return len(self.totals.acked_mids)

    def finish(self, timeout: float) -> LoadTotals:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the clients did not finish in time"
        if self.error is not None:
            raise self.error
        return self.totals


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stored_events(url: str, site: str = "default") -> tuple[int, set[str]]:
    """(rows, distinct mids) of a site's events, read directly from the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            site_id = conn.scalar(select(Site.id).where(Site.name == site))
            rows = conn.scalar(select(func.count()).select_from(Event)
                               .where(Event.site_id == site_id))
            mids = set(conn.execute(select(Event.mid).where(Event.site_id == site_id)).scalars())
    finally:
        engine.dispose()
    return int(rows or 0), mids


def assert_exactly_once(url: str, totals: LoadTotals) -> None:
    """Every acked event stored, none twice, nothing left unacked, nothing else stored."""
    rows, mids = stored_events(url)
    assert totals.unacked == 0, f"{totals.unacked} events never acked: {totals.error_samples}"
    assert rows == len(mids), "an event was stored twice"
    missing = totals.acked_mids - mids
    assert not missing, f"{len(missing)} acked events are not stored"
    assert mids == totals.acked_mids, "stored events that no ack covered"
