"""Migration 0004 (registry tables) on SQLite and PostgreSQL: upgrade backfills the
counters from events stored before it; downgrade removes the tables."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import inspect, text

from collector.storage.engine import alembic_config, make_engine


def test_upgrade_backfills_counters_and_downgrade_drops(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        cfg = alembic_config(database_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
        big = json.dumps({"eid": "LOG", "pad": "x" * 9000})
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sites (id, name, write_key, origins, created_at) "
                              "VALUES (1, 's', 'k', '[]', 0)"))
            rows = [("m1", "IMPRESSION", "IMPRESSION", 100, None, '{"n": 1}'),
                    ("m2", "IMPRESSION", "IMPRESSION", 300, '["w"]', '{"n": 2}'),
                    ("m3", "EXDATA", "org.video.paused", 200, None, '{"n": 3}'),
                    ("m4", "LOG", "LOG", 50, None, big)]
            for mid, eid, name, at, warnings, payload in rows:
                conn.execute(text(
                    "INSERT INTO events (mid, site_id, eid, name, ets, received_at, actor_id, "
                    "warnings, payload) VALUES (:mid, 1, :eid, :name, :at, :at, 'a', :w, :p)"),
                    {"mid": mid, "eid": eid, "name": name, "at": at, "w": warnings,
                     "p": payload})
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        with engine.connect() as conn:
            got = {r.name: r for r in conn.execute(text("SELECT * FROM event_names"))}
        assert set(got) == {"IMPRESSION", "org.video.paused", "LOG"}
        imp = got["IMPRESSION"]
        assert (imp.eid, imp.count, imp.first_seen, imp.last_seen, imp.warned) == (
            "IMPRESSION", 2, 100, 300, 1)
        assert json.loads(imp.example) == {"n": 1}
        assert (got["org.video.paused"].eid, got["org.video.paused"].count) == ("EXDATA", 1)
        assert got["LOG"].example is None  # over 8 KB: no example kept

        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        tables = set(inspect(engine).get_table_names())
        assert "event_names" not in tables and "event_types" not in tables
        assert "events" in tables
    finally:
        engine.dispose()
