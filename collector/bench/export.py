"""``collector bench export``: xAPI export speed and memory, on a temp SQLite database.

EVENTS synthetic lesson events go through the real ingest pipeline (validation,
session chains, course-start flags) into a fresh database. The export then runs in a
fresh child process, twice: over about a quarter of the events, and over all of them,
each measuring statements/s of the export loop (read pages, decode, map, encode, write
the JSON array to a file) and the child's peak RSS. Flat memory shows as the same peak
RSS for both sizes.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from collector.app import create_app
from collector.bench.synthetic import synthetic_events
from collector.ingest.pipeline import get_pipeline, shutdown
from collector.outbound.export import ExportFilter, chunked, iter_xapi, stream_json
from collector.storage.engine import get_engine, make_engine, session, upgrade
from collector.storage.sites import SiteAuth, create_site

INGEST_BATCH = 2000


def fill_database(url: str, events: int) -> int:
    """Store ``events`` synthetic events through the ingest pipeline; return the ets that
    splits off the first quarter."""

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATE_LIMIT": 0})
    upgrade(get_engine(app))
    with session(app) as s:
        site = create_site(s, "bench", [])
        s.commit()
        auth = SiteAuth(site.id, site.name, frozenset())
    pipeline = get_pipeline(app)
    encode = msgspec.json.encode
    chunk: list[bytes] = []
    ets: list[int] = []
    pending = []
    done = 0
    started = time.perf_counter()
    for ev in synthetic_events(events):
        ets.append(ev["ets"])
        chunk.append(encode(ev))
        if len(chunk) == INGEST_BATCH:
            pending.append(pipeline.submit_events(auth, chunk, transport="bench"))
            chunk = []
            if len(pending) >= 4:
                done += pending.pop(0).result().accepted
                sys.stderr.write(f"\rstoring events: {done}/{events}")
    if chunk:
        pending.append(pipeline.submit_events(auth, chunk, transport="bench"))
    for item in pending:
        done += item.result().accepted
    sys.stderr.write(f"\rstored {done} events in {time.perf_counter() - started:.1f}s\n")
    shutdown(app)  # the writer and checkpoint threads too, not only the connections
    ets.sort()
    return ets[len(ets) // 4]


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, it starts afresh at
    exec, so a child does not report its parent's peak)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(url: str, until_ms: str, out: str) -> None:
    """Run one export in this (fresh) process and print its figures as JSON."""

    engine = make_engine(url)
    baseline = peak_rss_mb()
    flt = ExportFilter(until_ms=int(until_ms) if until_ms != "-" else None)
    count = 0
    started = time.perf_counter()
    with open(out, "wb") as fh:
        def counted() -> Any:
            nonlocal count
            for item in iter_xapi(engine, flt, "http://localhost"):
                count += 1
                yield item
        for part in chunked(stream_json(counted(), "json")):
            fh.write(part)
    seconds = time.perf_counter() - started
    engine.dispose()
    print(json.dumps({"statements": count, "seconds": round(seconds, 3),
                      "peak_rss_mb": round(peak_rss_mb(), 1),
                      "baseline_rss_mb": round(baseline, 1)}))


def _measure(url: str, until_ms: int | None, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from collector.bench.export import _child; "
         "_child(*sys.argv[1:])", url, str(until_ms) if until_ms is not None else "-",
         str(out)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_export_bench(*, events: int = 200_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="collector-bench-export-") as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        quarter_until = fill_database(url, events)
        sys.stderr.write("exporting about a quarter of the events...\n")
        quarter = _measure(url, quarter_until, Path(tmp) / "quarter.json")
        sys.stderr.write("exporting all events...\n")
        full = _measure(url, None, Path(tmp) / "full.json")
        size_mb = (Path(tmp) / "full.json").stat().st_size / 1e6
    return {
        "events": events,
        "statements": full["statements"],
        "seconds": full["seconds"],
        "statements_per_s": round(full["statements"] / full["seconds"]),
        "peak_rss_mb": full["peak_rss_mb"],
        "baseline_rss_mb": full["baseline_rss_mb"],
        "quarter_statements": quarter["statements"],
        "quarter_statements_per_s": round(quarter["statements"] / quarter["seconds"]),
        "quarter_peak_rss_mb": quarter["peak_rss_mb"],
        "output_mb": round(size_mb, 1),
    }
