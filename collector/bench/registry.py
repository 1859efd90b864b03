"""What the registry adds to ingest, per event: ``python -m collector.bench.registry``.

Times the two registry steps on groups of synthetic lesson events (the traffic of
``collector bench ingest``) on a temp SQLite database: the ingest-time check
(:func:`check_custom_events`) and the persist hook (:func:`persist_catalog`, with the
counter writes it returns, inside a transaction). Prints one JSON object: microseconds
per event, median over the groups.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from collector.bench.synthetic import synthetic_events
from collector.core.events.validate import ValidEvent, validate_event
from collector.ingest.persist import BatchOutcome, PreparedBatch
from collector.storage.engine import make_engine, upgrade
from collector.storage.sites import SiteAuth, create_site
from collector.tracking.registry import Registry
from collector.tracking.registry_checks import WarningLog, check_custom_events, persist_catalog


def run_registry_bench(events: int = 10_000, groups: int = 20, batch: int = 100) -> dict[str, Any]:
    now = 1_763_000_000_000
    valid = [v for i, e in enumerate(synthetic_events(events))
             if isinstance(v := validate_event(msgspec.json.encode(e), i, now), ValidEvent)]
    with tempfile.TemporaryDirectory(prefix="collector-bench-registry-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        try:
            upgrade(engine)
            with Session(engine) as s:
                site = create_site(s, "bench", [])
                s.commit()
                bench_site = SiteAuth(site.id, site.name, frozenset())
            registry, warn_log = Registry(engine), WarningLog()
            check_s: list[float] = []
            hook_s: list[float] = []
            for g in range(groups):
                started = time.perf_counter()
                check_custom_events(registry, warn_log, bench_site, valid)
                check_s.append(time.perf_counter() - started)
                batches = [PreparedBatch(bench_site.id, "ws", now + g, valid[i:i + batch])
                           for i in range(0, len(valid), batch)]
                outcomes = [BatchOutcome(b.valid, 0) for b in batches]
                with engine.begin() as conn:
                    started = time.perf_counter()
                    counters = persist_catalog(conn, batches, outcomes)
                    if counters is not None:
                        counters(conn)
                    hook_s.append(time.perf_counter() - started)
        finally:
            engine.dispose()
    per_event = 1e6 / len(valid)
    check_us = statistics.median(check_s) * per_event
    hook_us = statistics.median(hook_s) * per_event
    return {"events_per_group": len(valid), "groups": groups,
            "check_us_per_event": round(check_us, 3), "hook_us_per_event": round(hook_us, 3),
            "total_us_per_event": round(check_us + hook_us, 3)}


if __name__ == "__main__":
    sys.stderr.write("timing the registry's ingest check and persist hook...\n")
    print(json.dumps(run_registry_bench()))
