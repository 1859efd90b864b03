"""Per-step timing counters of the ingest pipeline, kept per process.

Each process adds up calls, events and seconds per named step and writes them to
``<instance>/pipeline/<host>-<pid>.json`` at most every ``FLUSH_SECONDS``;
``collector stats --json`` sums the files under its ``pipeline`` key.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STEPS = ("decode", "validate", "before_store", "persist", "after_commit")
FLUSH_SECONDS = 2.0


class StepTimes:
    """Counters ``{step: [calls, events, seconds]}``, safe to update from any thread."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._counts: dict[str, list[float]] = {step: [0, 0, 0.0] for step in STEPS}
        self._flushed = 0.0

    def add(self, step: str, events: int, seconds: float) -> None:
        with self._lock:
            row = self._counts.setdefault(step, [0, 0, 0.0])
            row[0] += 1
            row[1] += events
            row[2] += seconds
        if self.folder is not None and time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()

    @contextmanager
    def step(self, name: str, events: int) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, events, time.perf_counter() - start)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {step: _row(calls, events, seconds)
                    for step, (calls, events, seconds) in self._counts.items()}

    def flush(self) -> None:
        """Write this process's counters (best effort: timing never fails ingest)."""
        self._flushed = time.monotonic()
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{socket.gethostname()}-{os.getpid()}.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.snapshot()))
            tmp.replace(path)
        except OSError:
            pass


def _row(calls: float, events: float, seconds: float) -> dict[str, Any]:
    return {"calls": int(calls), "events": int(events), "seconds": round(seconds, 6),
            "us_per_event": round(seconds * 1e6 / events, 2) if events else None}


def read_step_times(folder: Path) -> dict[str, dict[str, Any]]:
    """The counters of every process that wrote to ``folder``, added up per step."""
    totals: dict[str, list[float]] = {step: [0, 0, 0.0] for step in STEPS}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for step, row in data.items():
            if not isinstance(row, dict):
                continue
            total = totals.setdefault(step, [0, 0, 0.0])
            total[0] += row.get("calls") or 0
            total[1] += row.get("events") or 0
            total[2] += row.get("seconds") or 0.0
    return {step: _row(*row) for step, row in totals.items()}
