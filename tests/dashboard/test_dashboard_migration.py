"""Migration 0003 (dashboard tables) applies and reverts on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect

from collector.storage.engine import alembic_config, make_engine

TABLES = {"dash_keys", "dash_sessions", "dash_minutes", "dash_key_hours",
          "dash_reject_reasons", "dash_path_rules", "dash_funnels"}


def migrate(engine: Engine, url: str, action: str, revision: str) -> set[str]:
    """Run alembic on the collector's own connection; return the tables after it."""
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)
    return set(inspect(engine).get_table_names())


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert TABLES <= migrate(engine, database_url, "upgrade", "0003")
        columns = {c["name"] for c in inspect(engine).get_columns("dash_sessions")}
        assert {"timeline", "in_order", "first_ets", "dup_starts"} <= columns
        after_down = migrate(engine, database_url, "downgrade", "0001")
        assert not TABLES & after_down and "events" in after_down
        assert TABLES <= migrate(engine, database_url, "upgrade", "0003")
    finally:
        engine.dispose()
