"""Erase and prune transactions are retried when PostgreSQL breaks a deadlock with
ingest by ending theirs, and only then."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from collector.lifecycle.retract import in_transaction
from collector.storage.engine import make_engine
from tests.conftest import wait_for


def test_a_real_deadlock_with_another_writer_is_retried(pg_url: str) -> None:
    plain = pg_url.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as setup:
        setup.execute("CREATE TABLE probe (id int PRIMARY KEY, v int NOT NULL)")
        setup.execute("INSERT INTO probe VALUES (1, 0), (2, 0)")
    ours_holds_1 = threading.Event()
    other_done = threading.Event()
    other_error: list[BaseException] = []

    def other_writer() -> None:
        # Locks row 2, then waits for row 1: the opposite order of ours. Its long
        # deadlock_timeout makes PostgreSQL end our transaction, not this one.
        try:
            with psycopg.connect(plain) as conn:
                conn.execute("SET deadlock_timeout = '20s'")
                conn.execute("UPDATE probe SET v = v + 10 WHERE id = 2")
                assert ours_holds_1.wait(30)
                conn.execute("UPDATE probe SET v = v + 10 WHERE id = 1")
                conn.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            other_error.append(exc)
        finally:
            other_done.set()

    def blocked_on_a_lock(conn: Any) -> bool:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'").fetchone()[0] > 0

    attempts = 0

    def work(conn: Connection) -> int:
        nonlocal attempts
        attempts += 1
        conn.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
        conn.execute(text("UPDATE probe SET v = v + 1 WHERE id = 1"))
        if attempts == 1:
            ours_holds_1.set()
            with psycopg.connect(plain, autocommit=True) as watcher:
                wait_for(lambda: blocked_on_a_lock(watcher), what="the other writer waits")
        conn.execute(text("UPDATE probe SET v = v + 1 WHERE id = 2"))
        return attempts

    thread = threading.Thread(target=other_writer)
    thread.start()
    engine = make_engine(pg_url)
    try:
        assert in_transaction(engine, work) == 2
    finally:
        ours_holds_1.set()
        thread.join(30)
        engine.dispose()
    assert other_done.is_set() and not other_error
    with psycopg.connect(plain) as check:
        rows = check.execute("SELECT id, v FROM probe ORDER BY id").fetchall()
    assert rows == [(1, 11), (2, 11)]  # both writers' changes, ours once


def _fail_once(orig: Exception) -> tuple[list[int], Any]:
    calls: list[int] = []

    def work(conn: Connection) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise DBAPIError("UPDATE ...", {}, orig)
        return "done"

    return calls, work


def test_the_deadlock_is_told_by_its_sqlstate_not_by_message_text(sqlite_url: str) -> None:
    # A server with lc_messages in another language words it differently.
    calls, work = _fail_once(psycopg.errors.DeadlockDetected("interblocage détecté"))
    engine = make_engine(sqlite_url)
    try:
        assert in_transaction(engine, work) == "done"
    finally:
        engine.dispose()
    assert len(calls) == 2


def test_other_database_errors_are_not_retried(sqlite_url: str) -> None:
    calls, work = _fail_once(psycopg.errors.UniqueViolation("deadlock in the key text"))
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(DBAPIError):
            in_transaction(engine, work)
    finally:
        engine.dispose()
    assert len(calls) == 1
