"""``collector bench lifecycle``: erasure and retention speed on a filled database.

EVENTS synthetic lesson events (5,000 learners in 3 courses) go through the real ingest
pipeline into a fresh database (SQLite, or PostgreSQL with ``--database``). Then, timed:
``collector learner erase`` of the learner with the most events, and ``collector events
prune`` of the oldest quarter of the events, each with everything derived from them.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from collector.bench.export import fill_database
from collector.bench.ingest import fresh_database
from collector.lifecycle.erase import erase_learner
from collector.lifecycle.prune import prune_events
from collector.storage.engine import make_engine
from collector.storage.models import EVENTS


def run_lifecycle_bench(*, events: int = 200_000, database: str | None = None,
                        batch: int = 2000) -> dict[str, Any]:
    if database is not None and not database.startswith(("postgres://", "postgresql")):
        raise ValueError("--database takes a PostgreSQL URL (SQLite is the default)")
    with tempfile.TemporaryDirectory(prefix="collector-bench-") as tmp, \
            fresh_database(database, Path(tmp), "lifecycle") as url:
        quarter_ets = fill_database(url, events)
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                actor, own = conn.execute(
                    select(EVENTS.c.actor_id, func.count()).group_by(EVENTS.c.actor_id)
                    .order_by(func.count().desc(), EVENTS.c.actor_id).limit(1)).one()
            started = time.perf_counter()
            erased = erase_learner(engine, actor)
            erase_s = time.perf_counter() - started
            sys.stderr.write(f"erased {erased.removed.events} events in {erase_s:.2f}s\n")

            def progress(site: str, done: int, total: int) -> None:
                sys.stderr.write(f"\rpruning: {done}/{total}")

            pruned = prune_events(engine, quarter_ets, batch=batch, progress=progress)
            sys.stderr.write("\n")
        finally:
            engine.dispose()
    return {
        "database": "postgresql" if database else "sqlite",
        "events": events,
        "erase_events": int(own),
        "erase_seconds": round(erase_s, 3),
        "erase_removed": erased.removed.as_dict(),
        "prune_events": pruned.removed.events,
        "prune_seconds": round(pruned.seconds, 3),
        "prune_events_per_s": round(pruned.removed.events / pruned.seconds)
        if pruned.seconds else None,
        "prune_removed": pruned.removed.as_dict(),
    }
