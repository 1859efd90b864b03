"""``collector bench ingest``: end-to-end WebSocket ingest vs raw SQLite executemany.

Both sides are measured in the same run on the same machine: a fresh ``collector
serve`` on a temp SQLite database receives the events over ``/v1/ws`` from a separate
client process (100 events per frame, pipelined acks); then the very same rows are
inserted with ``sqlite3.executemany`` into a fresh database with the same schema and
pragmas (with SQLite's automatic WAL checkpoints, since a plain loop has no
checkpoint thread), 1,000 rows per transaction (three fresh runs; the median is reported).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import websockets

from collector.bench.server import ServerProcess
from collector.bench.synthetic import synthetic_events
from collector.core.events.validate import ValidEvent, validate_event
from collector.ingest.persist import EVENT_COLUMNS, PreparedBatch, event_values
from collector.storage.engine import SQLITE_PRAGMAS, make_engine, upgrade

WINDOW = 16  # frames in flight per connection
RAW_RUNS = 3


def _frames(events: int, batch: int) -> list[bytes]:
    out: list[bytes] = []
    chunk: list[dict[str, Any]] = []
    for ev in synthetic_events(events):
        chunk.append(ev)
        if len(chunk) == batch:
            out.append(msgspec.json.encode({"id": f"b{len(out)}", "events": chunk}))
            chunk = []
    if chunk:
        out.append(msgspec.json.encode({"id": f"b{len(out)}", "events": chunk}))
    return out


async def _stream(url: str, frames: list[bytes], connections: int, progress: Any) -> dict[str, int]:

    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": 0}
    shares = [frames[i::connections] for i in range(connections)]

    async def one(share: list[bytes]) -> None:
        async with websockets.connect(url, max_size=None, compression=None) as ws:
            sem = asyncio.Semaphore(WINDOW)

            async def reader() -> None:
                for _ in share:
                    ack = json.loads(await ws.recv())
                    sem.release()
                    if "error" in ack:
                        totals["errors"] += 1
                        continue
                    totals["accepted"] += ack["accepted"]
                    totals["duplicates"] += ack["duplicates"]
                    totals["rejected"] += len(ack["rejected"])
                    with progress.get_lock():
                        progress.value += ack["accepted"] + ack["duplicates"]

            task = asyncio.create_task(reader())
            for frame in share:
                await sem.acquire()
                await ws.send(frame.decode())
            await task

    await asyncio.gather(*(one(s) for s in shares if s))
    return totals


def _client(url: str, events: int, batch: int, connections: int, progress: Any,
            ready: Any, go: Any, out: Any) -> None:
    frames = _frames(events, batch)
    ready.set()
    go.wait()
    start = time.perf_counter()
    totals = asyncio.run(_stream(url, frames, connections, progress))
    out.put({**totals, "seconds": time.perf_counter() - start})


def _bar(done: int, total: int, started: float) -> None:
    width = 30
    frac = min(1.0, done / total) if total else 1.0
    rate = done / max(1e-9, time.perf_counter() - started)
    sys.stderr.write(f"\r[{'#' * int(frac * width):<{width}}] {done}/{total} events "
                     f"{rate:,.0f}/s ")
    sys.stderr.flush()


def _rows_for_raw_insert(events: int, site_id: int) -> list[tuple[Any, ...]]:
    """The rows the collector stores for these events, built by the collector's own code."""

    rows: list[tuple[Any, ...]] = []
    now = int(time.time() * 1000)
    batch = PreparedBatch(site_id, "ws", now, [])
    for i, ev in enumerate(synthetic_events(events)):
        checked = validate_event(msgspec.json.encode(ev), i, now)
        assert isinstance(checked, ValidEvent)
        checked.chain_id = checked.sid
        rows.append(event_values(checked, batch))
    return rows


def raw_sqlite_rate(db_path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Events/s of a plain executemany of ``rows`` into the events table, 1,000 per commit."""

    sql = (f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})")
    conn = sqlite3.connect(db_path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    # The collector turns automatic checkpoints off because its WalCheckpointer thread
    # does them; a plain loop has no such thread, so it keeps SQLite's own (the default,
    # every 1,000 pages). Without any, the baseline would skip work every sustained
    # SQLite writer must do and its WAL would grow without bound.
    conn.execute("PRAGMA wal_autocheckpoint=1000")
    start = time.perf_counter()
    for i in range(0, len(rows), 1000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows[i:i + 1000])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return len(rows) / seconds


def _prepare_database(url: str) -> None:

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def run_ingest_bench(*, events: int = 200_000, batch: int = 100,
                     connections: int = 8) -> dict[str, Any]:
    """Run both measurements and return the figures (see module docstring)."""
    with tempfile.TemporaryDirectory(prefix="collector-bench-") as tmp:
        tmpdir = Path(tmp)
        served_db = tmpdir / "served.sqlite3"
        url = f"sqlite:///{served_db}"
        _prepare_database(url)
        server = ServerProcess(url, env={"COLLECTOR_RATE_LIMIT": "0"},
                               instance=tmpdir / "instance")
        ctx = mp.get_context("spawn")
        progress = ctx.Value("q", 0)
        ready, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
        with server:
            ws_url = server.url.replace("http", "ws", 1) + f"/v1/ws?key={server.write_key}"
            client = ctx.Process(target=_client, args=(ws_url, events, batch, connections,
                                                       progress, ready, go, out))
            client.start()
            sys.stderr.write(f"generating {events} events in the client process...\n")
            ready.wait()
            started = time.perf_counter()
            go.set()
            while client.is_alive():
                _bar(progress.value, events, started)
                client.join(0.25)
            _bar(progress.value, events, started)
            sys.stderr.write("\n")
            if client.exitcode != 0:
                raise RuntimeError(f"bench client failed (exit code {client.exitcode})")
            totals = out.get(timeout=10)
        stored = _count(served_db)

        # The baseline is noisy on a shared disk: take the median of three fresh runs.
        rows = _rows_for_raw_insert(events, 1)
        raw_runs = []
        for run in range(RAW_RUNS):
            sys.stderr.write(f"raw SQLite executemany of the same rows, run {run + 1}/"
                             f"{RAW_RUNS}...\n")
            raw_db = tmpdir / f"raw{run}.sqlite3"
            _prepare_database(f"sqlite:///{raw_db}")
            _seed_site(raw_db)
            raw_runs.append(raw_sqlite_rate(raw_db, rows))
            raw_db.unlink()
        raw_rate = statistics.median(raw_runs)

    rate = events / totals["seconds"]
    return {
        "events": events,
        "stored": stored,
        "accepted": totals["accepted"],
        "duplicates": totals["duplicates"],
        "rejected": totals["rejected"],
        "errors": totals["errors"],
        "batch": batch,
        "connections": connections,
        "seconds": round(totals["seconds"], 3),
        "events_per_s": round(rate),
        "raw_sqlite_events_per_s": round(raw_rate),
        "raw_sqlite_runs": [round(r) for r in raw_runs],
        "ratio": round(rate / raw_rate, 3),
    }


def _count(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        # The collector's own audit events (site 'collector') are not bench traffic.
        return int(conn.execute(
            "SELECT count(*) FROM events WHERE site_id NOT IN "
            "(SELECT id FROM sites WHERE name = 'collector')").fetchone()[0])
    finally:
        conn.close()


def _seed_site(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO sites (id, name, write_key, origins, created_at) "
                 "VALUES (1, 'bench', 'k', '[]', 0)")
    conn.commit()
    conn.close()
