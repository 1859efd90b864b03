"""``collector bench soak``: many concurrent clients against a real ``collector serve``.

WebSocket clients (``--clients``) and HTTP clients (``--http-clients``) stream lesson
traffic on loopback for ``--seconds``, each resending a batch until it is acked (see
:mod:`collector.bench.load`). Meanwhile the server's processes are sampled from /proc
(resident memory, open file descriptors). The report answers: was every acked event
stored exactly once, how long did acks take, and did memory stay flat after warm-up?
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from collector.bench.ingest import fresh_database
from collector.bench.load import LoadPlan, LoadTotals, percentile, run_load
from collector.bench.server import ServerProcess, proc_stats
from collector.ingest.timing import read_step_times
from collector.storage.engine import make_engine
from collector.storage.models import Event, Site

SAMPLE_SECONDS = 1.0
SITE = "default"  # the site `collector serve` creates on an empty database


def server_pids(master: int) -> list[int]:
    """The gunicorn master and its workers (children found through /proc)."""
    return [master] + [pid for pid, fields in proc_stats() if int(fields[1]) == master]


def _status_kb(pid: int, field_name: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


@dataclass
class ServerSampler:
    """Samples RSS and open fds of the server's processes once a second."""

    master: int
    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # t, MB, fds
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def snapshot(self) -> tuple[float, int]:
        pids = server_pids(self.master)
        rss = sum(_status_kb(p, "VmRSS") for p in pids) / 1024
        return rss, sum(_fds(p) for p in pids)

    def peak_rss_mb(self) -> float:
        """Sum of each process's high-water mark (an upper bound of the true peak)."""
        return sum(_status_kb(p, "VmHWM") for p in server_pids(self.master)) / 1024

    def start(self) -> ServerSampler:
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            rss, fds = self.snapshot()
            self.samples.append((time.monotonic() - self.started, rss, fds))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def stored_events(url: str, site: str = SITE) -> tuple[int, set[str]]:
    """(rows, distinct mids) of one site's events, read directly from the database."""

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


def _progress(totals: LoadTotals, sampler: ServerSampler, seconds: float,
              done: threading.Event) -> None:
    while not done.wait(5.0):
        elapsed = time.monotonic() - sampler.started
        rss = sampler.samples[-1][1] if sampler.samples else 0.0
        sys.stderr.write(f"  {elapsed:5.0f}/{seconds:.0f}s  acked {len(totals.acked_mids)} "
                         f"events  errors {totals.errors}  server RSS {rss:.0f} MB\n")
        sys.stderr.flush()


def run_soak(*, clients: int = 200, http_clients: int | None = None, seconds: float = 60.0,
             batch: int = 25, interval: float = 0.5, resend_every: int = 50,
             database: str | None = None, workers: int = 1,
             compression: bool = True) -> dict[str, Any]:
    """Run the soak and return its figures (see the module docstring)."""
    http = max(1, clients // 10) if http_clients is None else http_clients
    plan = LoadPlan(ws_clients=clients, http_clients=http, seconds=seconds, batch=batch,
                    interval=interval, resend_every=resend_every, drain_seconds=30.0,
                    compression=compression)
    with tempfile.TemporaryDirectory(prefix="collector-soak-") as tmp, \
            fresh_database(database, Path(tmp), "soak") as url:
        # Each open WebSocket holds one of gunicorn's threads; HTTP keep-alive ones too.
        server = ServerProcess(url, instance=Path(tmp) / "instance", workers=workers,
                               threads=clients + http + 32,
                               env={"COLLECTOR_RATE_LIMIT": "0"})
        with server:
            if server.write_key is None:
                raise RuntimeError("the soak needs an empty database (site 'default' is "
                                   "created, and its write key printed, on first start)")
            sampler = ServerSampler(server.proc.pid if server.proc else 0)
            idle_rss, idle_fds = sampler.snapshot()
            sampler.start()
            totals = LoadTotals()
            done = threading.Event()
            reporter = threading.Thread(target=_progress, args=(totals, sampler, seconds, done),
                                        daemon=True)
            sys.stderr.write(f"soak: {clients} WebSocket + {http} HTTP clients, {batch} "
                             f"events per batch every {interval}s, {seconds:.0f}s\n")
            reporter.start()
            started = time.monotonic()
            asyncio.run(run_load(server.url, server.write_key, plan, totals))
            elapsed = time.monotonic() - started
            done.set()
            sampler.stop()
            peak_rss = sampler.peak_rss_mb()
            fds_after = _settled_fds(sampler, idle_fds)
        rows, stored_mids = stored_events(url)
        distinct = len(stored_mids)
        steps = read_step_times(Path(tmp) / "instance" / "pipeline")  # written at exit
    report = _report(plan, totals, sampler, rows, distinct, stored_mids, elapsed, peak_rss,
                     idle_rss, idle_fds, fds_after, workers)
    # The server's own share of the ack time: each step's mean per call (a "persist"
    # call is one group transaction, the wait of the batches in it).
    report["server_step_ms_per_call"] = {
        step: round(row["seconds"] * 1000 / row["calls"], 2) if row["calls"] else None
        for step, row in steps.items()}
    return report


def _settled_fds(sampler: ServerSampler, idle: int, timeout: float = 3.0) -> int:
    """Open fds once the clients are gone (waits for the server to close its sockets)."""
    deadline = time.monotonic() + timeout
    fds = sampler.snapshot()[1]
    while fds > idle and time.monotonic() < deadline:
        time.sleep(0.2)
        fds = sampler.snapshot()[1]
    return fds


def _report(plan: LoadPlan, totals: LoadTotals, sampler: ServerSampler, rows: int,
            distinct: int, stored_mids: set[str], elapsed: float, peak_rss: float,
            idle_rss: float, idle_fds: int, fds_after: int, workers: int) -> dict[str, Any]:
    samples = sampler.samples
    warm = [s for s in samples if s[0] >= plan.seconds * 0.25]
    rss_flat = (round(max(s[1] for s in warm) - warm[0][1], 1) if len(warm) >= 2 else None)
    # Growth over the last 30 s of the run, as a share of the RSS at its start.
    last = [s for s in samples if plan.seconds - 30 <= s[0] <= plan.seconds]
    late_growth = (round((last[-1][1] - last[0][1]) / last[0][1], 3)
                   if len(last) >= 2 and last[0][1] else None)
    step = max(1, len(samples) // 12)
    lat = totals.latencies_ms
    return {
        "clients": plan.ws_clients,
        "http_clients": plan.http_clients,
        "seconds": round(elapsed, 1),
        "batch": plan.batch,
        "sent": totals.sent,
        "acked": len(totals.acked_mids),
        "stored": rows,
        "stored_distinct": distinct,
        "acked_not_stored": len(totals.acked_mids - stored_mids),
        "duplicates": totals.duplicates,
        "resent_on_purpose": totals.resent_on_purpose,
        "rejected": totals.rejected,
        "errors": totals.errors,
        "retries": totals.retries,
        "unacked": totals.unacked,
        "error_samples": totals.error_samples,
        "batches_acked": totals.batches,
        "events_per_s": round(len(totals.acked_mids) / elapsed) if elapsed else 0,
        "p50_ack_ms": round(percentile(lat, 0.50), 1),
        "p99_ack_ms": round(percentile(lat, 0.99), 1),
        "max_ack_ms": round(max(lat), 1) if lat else 0.0,
        "client_loop_lag_p50_ms": round(percentile(totals.loop_lag_ms, 0.50), 1),
        "client_loop_lag_p99_ms": round(percentile(totals.loop_lag_ms, 0.99), 1),
        "idle_rss_mb": round(idle_rss, 1),
        "peak_rss_mb": round(peak_rss, 1),
        "rss_growth_after_warmup_mb": rss_flat,
        "rss_growth_last_30s": late_growth,
        "compression": plan.compression,
        "workers": workers,
        "rss_mb_over_time": [[round(t), round(mb, 1)] for t, mb, _ in samples[::step]],
        "idle_fds": idle_fds,
        "peak_fds": max((s[2] for s in samples), default=idle_fds),
        "fds_after": fds_after,
    }
