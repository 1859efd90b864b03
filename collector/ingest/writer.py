"""One writer thread per process that group-commits the batches of all connections.

Each connection hands its prepared batch to :meth:`BatchWriter.submit` and waits on the
returned future; the writer drains whatever is queued into one transaction, commits,
and only then resolves the futures, so a client is acked only for committed data.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
)

from collector.core.events.validate import RejectedEvent
from collector.ingest.persist import (
    PG_EVENTS_STAGE,
    BatchOutcome,
    PersistHook,
    PreparedBatch,
    SessionChains,
    persist_group,
)
from collector.ingest.timing import StepTimes
from collector.storage.dialect import is_postgres
from collector.storage.engine import StorageUnavailable, write_engine, write_waiters

log = logging.getLogger(__name__)

MAX_GROUP_EVENTS = 10000
# SQLite: after a commit, how long the writer waits at most for another thread of this
# process that waits to begin a write (a dashboard save) to take the lock first.
GIVE_WAY_SECONDS = 0.2
_STOP: Any = object()


class WalCheckpointer(threading.Thread):
    """Copies the SQLite WAL into the database off the writer's path.

    Connections run with ``wal_autocheckpoint=0`` so a commit never pays for a
    checkpoint; this thread runs PASSIVE checkpoints (they never block the writer).
    """

    INTERVAL = 0.25  # at most this often; only after commits

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="collector-wal-checkpoint", daemon=True)
        self.engine = engine
        self.committed = threading.Event()
        self.stopping = False

    def run(self) -> None:
        while True:
            self.committed.wait()
            if self.stopping:
                return
            time.sleep(self.INTERVAL)
            self.committed.clear()
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception as exc:  # noqa: BLE001 - retried after the next commit
                log.warning("WAL checkpoint failed: %s", exc)
                self.committed.set()
            if self.stopping:  # stop() may have come while this one ran (its set() cleared)
                return

    def stop(self) -> None:
        self.stopping = True
        self.committed.set()


def is_transient(exc: BaseException) -> bool:
    """A failure of the database connection, not of the data: retrying later can work."""
    if isinstance(exc, OperationalError | InterfaceError | PendingRollbackError
                  | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class BatchWriter:
    """Group-committing writer; the thread starts on first use (after any fork)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        if is_postgres(engine):
            PG_EVENTS_STAGE.watch(engine)
        self.chains = SessionChains()
        self.hooks: list[PersistHook] = []  # in-transaction phase (collector.ingest.pipeline)
        self.times = StepTimes()
        self._queue: queue.Queue[tuple[PreparedBatch, Future[BatchOutcome]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()
        self._checkpointer: WalCheckpointer | None = None
        self._conn: Connection | None = None  # the writer thread's own (see _transaction)

    def submit(self, batch: PreparedBatch) -> Future[BatchOutcome]:
        """Queue ``batch``; the future resolves after its commit (or fails)."""
        self._ensure_thread()
        fut: Future[BatchOutcome] = Future()
        self._queue.put((batch, fut))
        return fut

    def write(self, batch: PreparedBatch) -> BatchOutcome:
        """Submit and wait for the commit."""
        return self.submit(batch).result()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                if self._pid != os.getpid():
                    self._conn = None  # a parent process's connection is not ours to use
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="collector-writer",
                                                daemon=True)
                self._thread.start()
                if self.engine.dialect.name == "sqlite":
                    self._checkpointer = WalCheckpointer(self.engine)
                    self._checkpointer.start()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a dead connection is dropped by the pool
                log.debug("writer: closing a failed connection", exc_info=True)

    def close(self) -> None:
        """Stop the writer (after what is queued) and the checkpointer threads."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(30)
        if self._thread is None or not self._thread.is_alive():
            self._release()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer.join(30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            size = len(group[0][0].valid)
            while size < MAX_GROUP_EVENTS:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(item)  # handled after this group
                    break
                group.append(item)
                size += len(item[0].valid)
            started = time.perf_counter()
            try:
                self._commit(group)
            except BaseException:  # pragma: no cover - never let the writer die
                log.exception("writer: unexpected failure")
                for _, fut in group:
                    if not fut.done():
                        fut.set_exception(StorageUnavailable("internal error while storing"))
            self.times.add("persist", size, time.perf_counter() - started)

    def _commit(self, group: list[tuple[PreparedBatch, Future[BatchOutcome]]]) -> None:
        batches = [b for b, _ in group]
        try:
            outcomes = self._transaction(batches)
        except Exception as exc:  # noqa: BLE001 - a database error, or a hook's
            if is_transient(exc):
                self._unavailable(group, exc)
            elif len(group) > 1:
                # One batch poisoned the group: store the others on their own.
                for item in group:
                    self._commit([item])
            else:
                self._refuse(group[0], exc)
            return
        for (_, fut), outcome in zip(group, outcomes, strict=True):
            fut.set_result(outcome)

    def _unavailable(self, group: list[tuple[PreparedBatch, Future[BatchOutcome]]],
                     exc: Exception) -> None:
        reason = getattr(exc, "orig", None) or exc
        log.warning("writer: database unavailable: %s", reason)
        for _, fut in group:
            fut.set_exception(StorageUnavailable(str(reason)))

    def _refuse(self, item: tuple[PreparedBatch, Future[BatchOutcome]],
                exc: Exception) -> None:
        """A batch that failed on its own: try it once more, then keep it in quarantine.

        The second try tells a failure of the connection (which it survives) from one
        of the data. Answering "storage unavailable" for the data would make the client
        resend it forever; its events are kept, with the reason, where operators look,
        and acked as rejected.
        """
        batch, fut = item
        try:
            fut.set_result(self._transaction([batch])[0])
            return
        except Exception as again:  # noqa: BLE001 - sorted out just below
            if is_transient(again):
                self._unavailable([item], again)
                return
            exc = again
        reason = getattr(exc, "orig", None) or exc
        if isinstance(exc, DBAPIError):
            log.error("writer: batch could not be stored: %s", reason)
        else:
            log.error("writer: batch could not be stored", exc_info=exc)
        message = f"event: could not be stored ({str(reason)[:200]})"
        batch.rejected = sorted(
            [*batch.rejected,
             *(RejectedEvent(ev.index, ev.raw, ev.mid, [message]) for ev in batch.valid)],
            key=lambda rej: rej.index)
        batch.valid = []
        batch.repeated_mids = []
        try:
            fut.set_result(self._transaction([batch])[0])
        except Exception as failed:  # noqa: BLE001 - not even the quarantine could be written
            log.error("writer: batch could not be quarantined: %s", failed)
            fut.set_exception(StorageUnavailable(f"could not store: {reason}"))

    def _transaction(self, batches: list[PreparedBatch]) -> list[BatchOutcome]:
        # One connection kept across groups: a pool checkout pings the server (a round
        # trip per group). After any failure the connection goes back to the pool, which
        # tests or replaces it on the next checkout.
        if self._conn is None:
            self._conn = write_engine(self.engine).connect()
        conn = self._conn
        try:
            with conn.begin():
                outcomes, learned = persist_group(conn, batches, self.chains, self.hooks)
        except BaseException:
            self._release()
            raise
        self.chains.learn(learned)
        waiters = write_waiters(self.engine)
        if waiters is not None and waiters.count:
            waiters.give_way(GIVE_WAY_SECONDS)
        if self._checkpointer is not None:
            self._checkpointer.committed.set()
        return outcomes
