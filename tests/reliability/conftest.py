"""Fixtures of the fault tests: client load in a background thread, stored-event checks,
collector nodes on one PostgreSQL, severed PostgreSQL connections."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import psycopg

from collector.bench.load import LoadPlan, LoadTotals, run_load
from collector.bench.server import ServerProcess
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


def assert_exactly_once(url: str, *loads: LoadTotals) -> None:
    """Every event acked to any of ``loads`` stored, none twice, nothing left unacked,
    nothing else stored."""
    rows, mids = stored_events(url)
    acked: set[str] = set()
    for totals in loads:
        assert totals.unacked == 0, f"{totals.unacked} events never acked: " \
                                    f"{totals.error_samples}"
        acked |= totals.acked_mids
    assert rows == len(mids), f"{rows - len(mids)} stored rows repeat an event"
    missing = acked - mids
    assert not missing, f"{len(missing)} acked events are not stored"
    assert mids == acked, f"{len(mids - acked)} stored events that no ack covered"


class Nodes:
    """Two ``collector serve`` nodes on one database, each with its own instance folder
    and port (a node killed and started again keeps both); ``key`` and ``password``
    come from the first one."""

    def __init__(self, url: str, tmp_path: Path, env: dict[str, str], workers: int = 1) -> None:
        base = {"COLLECTOR_RATE_LIMIT": "0", **env}
        self.a = ServerProcess(url, instance=tmp_path / "node-a", threads=48, env=base,
                               workers=workers)
        self.b = ServerProcess(url, instance=tmp_path / "node-b", threads=48, env=base,
                               workers=workers)

    def start(self) -> Nodes:
        self.a.start(timeout=60)  # the first node bootstraps site 'default' and 'admin'
        self.b.start(timeout=60)
        assert self.a.write_key and self.a.admin_password
        assert self.b.write_key is None, "the second node must find the database set up"
        return self

    @property
    def key(self) -> str:
        assert self.a.write_key is not None
        return self.a.write_key

    def stop(self) -> None:
        self.a.kill()
        self.b.kill()


def terminate_backends(database: str) -> int:
    """``pg_terminate_backend`` every connection to ``database`` (but this one's); how
    many were terminated."""
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True,
                         connect_timeout=5) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = %s AND pid <> pg_backend_pid()",
                             (database,)).fetchall()
    return sum(1 for (ok,) in rows if ok)
