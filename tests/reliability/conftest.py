"""Fixtures of the fault tests: client load in a background thread, stored-event checks."""

from __future__ import annotations

import asyncio
import threading

from collector.bench.load import LoadPlan, LoadTotals, run_load
from collector.bench.soak import stored_events


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




def assert_exactly_once(url: str, totals: LoadTotals) -> None:
    """Every acked event stored, none twice, nothing left unacked, nothing else stored."""
    rows, mids = stored_events(url)
    assert totals.unacked == 0, f"{totals.unacked} events never acked: {totals.error_samples}"
    assert rows == len(mids), "an event was stored twice"
    missing = totals.acked_mids - mids
    assert not missing, f"{len(missing)} acked events are not stored"
    assert mids == totals.acked_mids, "stored events that no ack covered"
