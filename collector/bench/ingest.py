"""``collector bench ingest``: end-to-end WebSocket ingest vs a raw insert of the same rows.

Both sides are measured in the same run on the same machine. A fresh ``collector
serve`` (``--workers N``) on a fresh database receives the events over ``/v1/ws`` from
a separate client process: ``--batch`` events per frame (tracker.js sends 25),
pipelined acks, permessage-deflate negotiated as browsers do unless
``--compression off``. With compression on, the same traffic is also sent to a second
fresh server with compression off, and ``compression_ratio`` compares the two.
``server_cpu_us_per_event`` is the CPU time of the server's processes (gunicorn master
and workers, from /proc) while the events streamed, divided by the events.

The baseline inserts the very same rows, built by the collector's own code, 1,000 rows
per transaction (three fresh runs; the median is reported):

- SQLite: ``sqlite3.executemany`` into a fresh file with the same schema and pragmas
  (with SQLite's automatic WAL checkpoints, since a plain loop has no checkpoint thread);
- PostgreSQL (``--database URL``): psycopg ``executemany`` of the pre-serialized rows
  into a fresh database on the same server, plus ``COPY`` for reference. Every database
  the bench creates there is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import websockets
from sqlalchemy.engine import make_url

from collector.bench.server import ServerProcess, proc_stats
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


async def _stream(url: str, frames: list[bytes], connections: int, progress: Any,
                  compression: bool) -> dict[str, int]:

    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "errors": 0}
    shares = [frames[i::connections] for i in range(connections)]

    async def one(share: list[bytes]) -> None:
        async with websockets.connect(url, max_size=None,
                                      compression="deflate" if compression else None) as ws:
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


def _client(url: str, events: int, batch: int, connections: int, compression: bool,
            progress: Any, ready: Any, go: Any, out: Any) -> None:
    frames = _frames(events, batch)
    ready.set()
    go.wait()
    start = time.perf_counter()
    totals = asyncio.run(_stream(url, frames, connections, progress, compression))
    out.put({**totals, "seconds": time.perf_counter() - start})


def process_group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of process group ``pgid``."""
    ticks = sum(int(fields[11]) + int(fields[12]) for _, fields in proc_stats()
                if int(fields[2]) == pgid)
    return ticks / os.sysconf("SC_CLK_TCK")


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


@contextmanager
def fresh_database(server_url: str | None, tmpdir: Path, label: str) -> Iterator[str]:
    """A new empty database: a SQLite file in ``tmpdir``, or a PostgreSQL database
    created on the server of ``server_url`` and dropped on exit."""
    if server_url is None:
        yield f"sqlite:///{tmpdir / (label + '.sqlite3')}"
        return
    url = make_url(server_url)
    name = f"collector_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(url.set(database="postgres")), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(_libpq(url.set(database="postgres")), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: Any) -> str:
    return str(url.set(drivername="postgresql").render_as_string(hide_password=False))


def _prepare_database(url: str) -> None:

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def run_ingest_bench(*, events: int = 200_000, batch: int = 25, connections: int = 8,
                     database: str | None = None, workers: int = 1,
                     compression: bool = True) -> dict[str, Any]:
    """Run both measurements and return the figures (see module docstring)."""
    if database is not None and not database.startswith(("postgres://", "postgresql")):
        raise ValueError("--database takes a PostgreSQL URL (SQLite is the default)")
    with tempfile.TemporaryDirectory(prefix="collector-bench-") as tmp:
        tmpdir = Path(tmp)
        served = _serve_and_stream(database, tmpdir, "served", events=events, batch=batch,
                                   connections=connections, workers=workers,
                                   compression=compression)
        plain = None
        if compression:
            sys.stderr.write("the same traffic without compression, to a fresh server...\n")
            plain = _serve_and_stream(database, tmpdir, "plain", events=events, batch=batch,
                                      connections=connections, workers=workers,
                                      compression=False)
        # The baseline is noisy on a shared disk: take the median of three fresh runs.
        rows = _rows_for_raw_insert(events, 1)
        raw_runs: list[float] = []
        copy_rate = None
        for run in range(RAW_RUNS):
            sys.stderr.write(f"raw {'PostgreSQL' if database else 'SQLite'} executemany of "
                             f"the same rows, run {run + 1}/{RAW_RUNS}...\n")
            with fresh_database(database, tmpdir, f"raw{run}") as url:
                _prepare_database(url)
                if database is None:
                    raw_db = Path(make_url(url).database or "")
                    _seed_site(raw_db)
                    raw_runs.append(raw_sqlite_rate(raw_db, rows))
                    raw_db.unlink()
                else:
                    raw_runs.append(raw_postgres_rate(url, rows))
        if database is not None:
            with fresh_database(database, tmpdir, "copy") as url:
                _prepare_database(url)
                copy_rate = raw_postgres_copy_rate(url, rows)
        raw_rate = statistics.median(raw_runs)

    rate = events / served["seconds"]
    kind = "postgres" if database else "sqlite"
    result: dict[str, Any] = {
        "database": kind,
        "events": events,
        "stored": served["stored"],
        "accepted": served["accepted"],
        "duplicates": served["duplicates"],
        "rejected": served["rejected"],
        "errors": served["errors"],
        "batch": batch,
        "connections": connections,
        "workers": workers,
        "compression": compression,
        "seconds": round(served["seconds"], 3),
        "events_per_s": round(rate),
        "server_cpu_us_per_event": round(served["cpu_seconds"] * 1e6 / events, 1),
        f"raw_{kind}_events_per_s": round(raw_rate),
        f"raw_{kind}_runs": [round(r) for r in raw_runs],
        "ratio": round(rate / raw_rate, 3),
    }
    if copy_rate is not None:
        result["raw_postgres_copy_events_per_s"] = round(copy_rate)
    if plain is not None:
        plain_rate = events / plain["seconds"]
        result["uncompressed_events_per_s"] = round(plain_rate)
        result["uncompressed_server_cpu_us_per_event"] = round(
            plain["cpu_seconds"] * 1e6 / events, 1)
        result["compression_ratio"] = round(rate / plain_rate, 3)
        result["errors"] += plain["errors"]
    return result


def _serve_and_stream(database: str | None, tmpdir: Path, label: str, *, events: int,
                      batch: int, connections: int, workers: int,
                      compression: bool) -> dict[str, Any]:
    """Stream the events to a fresh server on a fresh database; totals, CPU and stored."""
    with fresh_database(database, tmpdir, label) as url:
        _prepare_database(url)
        server = ServerProcess(url, env={"COLLECTOR_RATE_LIMIT": "0"}, workers=workers,
                               instance=tmpdir / f"instance-{label}")
        ctx = mp.get_context("spawn")
        progress = ctx.Value("q", 0)
        ready, go, out = ctx.Event(), ctx.Event(), ctx.Queue()
        with server:
            assert server.proc is not None
            ws_url = server.url.replace("http", "ws", 1) + f"/v1/ws?key={server.write_key}"
            client = ctx.Process(target=_client, args=(ws_url, events, batch, connections,
                                                       compression, progress, ready, go, out))
            client.start()
            sys.stderr.write(f"generating {events} events in the client process...\n")
            ready.wait()
            cpu_before = process_group_cpu_seconds(server.proc.pid)
            started = time.perf_counter()
            go.set()
            while client.is_alive():
                _bar(progress.value, events, started)
                client.join(0.25)
            cpu = process_group_cpu_seconds(server.proc.pid) - cpu_before
            _bar(progress.value, events, started)
            sys.stderr.write("\n")
            if client.exitcode != 0:
                raise RuntimeError(f"bench client failed (exit code {client.exitcode})")
            totals = out.get(timeout=10)
        return {**totals, "cpu_seconds": cpu, "stored": _count(url)}


def raw_postgres_rate(url: str, rows: list[tuple[Any, ...]]) -> float:
    """Events/s of psycopg executemany of ``rows`` into the events table, 1,000 per commit."""
    sql = (f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
           f"VALUES ({', '.join('%s' for _ in EVENT_COLUMNS)})")
    with psycopg.connect(_libpq(make_url(url))) as conn:
        _seed_site_pg(conn)
        start = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(rows), 1000):
                cur.executemany(sql, rows[i:i + 1000])
                conn.commit()
        return len(rows) / (time.perf_counter() - start)


def raw_postgres_copy_rate(url: str, rows: list[tuple[Any, ...]]) -> float:
    """Events/s of COPY of ``rows`` into the events table, 1,000 per commit (reference)."""
    with psycopg.connect(_libpq(make_url(url))) as conn:
        _seed_site_pg(conn)
        start = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(0, len(rows), 1000):
                with cur.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                    for row in rows[i:i + 1000]:
                        copy.write_row(row)
                conn.commit()
        return len(rows) / (time.perf_counter() - start)


def _seed_site_pg(conn: psycopg.Connection[Any]) -> None:
    conn.execute("INSERT INTO sites (id, name, write_key, origins, created_at) "
                 "VALUES (1, 'bench', 'k', '[]', 0)")
    conn.commit()


def _count(url: str) -> int:
    """Stored bench events (the collector's own audit events, site 'collector', are not)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(
                "SELECT count(*) FROM events WHERE site_id NOT IN "
                "(SELECT id FROM sites WHERE name = 'collector')").scalar_one())
    finally:
        engine.dispose()


def _seed_site(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO sites (id, name, write_key, origins, created_at) "
                 "VALUES (1, 'bench', 'k', '[]', 0)")
    conn.commit()
    conn.close()
