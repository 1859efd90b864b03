"""Database engine per app: SQLite (WAL, durable commits) by default, PostgreSQL by URL."""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from collector.resources import resource_dir

# WAL with synchronous=NORMAL: a committed (acked) batch survives a crash or kill of
# the collector; only an OS crash or power cut can lose the last commits. PostgreSQL is
# the choice when that matters.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA cache_size=-32768",
    "PRAGMA temp_store=MEMORY",
    # Checkpoints run in a background thread (writer.WalCheckpointer), not on commit.
    "PRAGMA wal_autocheckpoint=0",
    "PRAGMA journal_size_limit=67108864",
)


class StorageUnavailable(RuntimeError):
    """The database cannot be reached or written; nothing was acked."""

    batch_id: object = None


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the collector's connection settings for ``url``."""
    # Error messages (and so logged tracebacks) leave out statement parameters: they hold
    # write keys, user names and event payloads.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _sqlite_setup(engine)
        return engine
    # Bulk writes without RETURNING go to psycopg's executemany (one short statement,
    # converted once, pipelined) instead of SQLAlchemy's multi-row VALUES, whose text
    # changes with the row count and is parsed again on every call.
    kwargs.setdefault("use_insertmanyvalues", False)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class WriteWaiters:
    """SQLite: how many threads of this process wait to begin a write transaction.

    SQLite's busy handler polls with growing sleeps; a writer that commits back to back
    (the ingest writer) takes the lock again before a waiting thread wakes, so a
    dashboard save could wait for seconds. The ingest writer gives way after a commit
    while this count is above zero (``give_way``).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.count = 0

    def __enter__(self) -> None:
        with self._cond:
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self.count -= 1
            self._cond.notify_all()

    def give_way(self, timeout: float) -> None:
        """Wait until no other thread waits for the write lock, ``timeout`` at most."""
        with self._cond:
            self._cond.wait_for(lambda: self.count == 0, timeout)


def write_waiters(engine: Engine) -> WriteWaiters | None:
    """The engine's ``WriteWaiters`` (SQLite), None for other databases."""
    return getattr(engine, "collector_write_waiters", None)


def _sqlite_setup(engine: Engine) -> None:
    waiters = WriteWaiters()
    engine.collector_write_waiters = waiters  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN so writers can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("sqlite_immediate"):
            with waiters:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


# Every write path begins its transaction through these. In WAL mode a deferred SQLite
# transaction reads from a snapshot; if it then writes after another connection (the
# ingest writer) committed, SQLite fails it at once with SQLITE_BUSY_SNAPSHOT ("database
# is locked") and the busy timeout does not apply. BEGIN IMMEDIATE takes the write lock
# up front, waiting up to the busy timeout, so what the transaction reads stays current.
# PostgreSQL ignores the option: a plain BEGIN, conflicts settled by constraints.


def write_engine(engine: Engine) -> Engine:
    """``engine`` whose transactions take SQLite's write lock when they begin."""
    return engine.execution_options(sqlite_immediate=True)


def write_transaction(engine: Engine) -> AbstractContextManager[Connection]:
    """``with write_transaction(engine) as conn:`` a transaction for a write path,
    committed at the end of the block (rolled back on an exception)."""
    return write_engine(engine).begin()


def init_app(app: Flask) -> None:
    """Create the app's engine and session factories from ``DATABASE_URL``."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["collector.engine"] = engine
    app.extensions["collector.sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["collector.write_sessions"] = sessionmaker(write_engine(engine),
                                                              expire_on_commit=False)


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["collector.engine"]


def session(app: Flask | None = None) -> Session:
    """A new ORM session (use as a context manager); write paths use :func:`write_session`."""
    factory: sessionmaker[Session] = (app or current_app).extensions["collector.sessions"]
    return factory()


def write_session(app: Flask | None = None) -> Session:
    """A new ORM session for a write path: its transactions begin as
    :func:`write_transaction`'s do (use as a context manager)."""
    factory: sessionmaker[Session] = (app or current_app).extensions["collector.write_sessions"]
    return factory()


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ok" for /health
        return False


def alembic_config(url: str) -> Any:
    cfg = Config()
    cfg.set_main_option("script_location", str(resource_dir("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration (``collector db upgrade``)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with write_transaction(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
