"""Custom event registrations are per site: one site's write key cannot document,
change or read another site's event names (descriptions, fields, examples)."""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from flask import Flask
from sqlalchemy import text

from collector.storage.engine import alembic_config, make_engine, session
from collector.storage.sites import create_site
from tests.conftest import ORIGIN, log_in
from tests.factories import event

SECRET = "site A only: the hint shown after two wrong answers"


def register(name: str, description: str, fields: dict[str, str],
             version: int = 1) -> dict[str, Any]:
    return event("EXDATA", edata={"type": "collector.register", "data": {
        "name": name, "description": description, "fields": fields, "version": version}})


def custom(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return event("EXDATA", edata={"type": name, "data": data})


def send(app: Flask, key: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = app.test_client().post("/v1/telemetry", data=json.dumps({"events": events}),
                                      headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.data
    result: dict[str, Any] = response.get_json()["result"]
    return result


def stored_warnings(app: Flask, site: str, name: str) -> list[list[str]]:
    with session(app) as s:
        rows = s.execute(text(
            "SELECT e.warnings FROM events e JOIN sites s ON s.id = e.site_id "
            "WHERE s.name = :site AND e.name = :name ORDER BY e.id"),
            {"site": site, "name": name}).all()
    return [json.loads(r[0]) if r[0] else [] for r in rows]


def two_sites(app: Flask) -> tuple[str, str]:
    with session(app) as s:
        other = create_site(s, "other", [ORIGIN])
        s.commit()
        return str(app.config["TEST_SITE"].key), other.write_key


def test_a_registration_documents_its_own_site_only(any_app: Flask) -> None:
    key_a, key_b = two_sites(any_app)
    send(any_app, key_a, [register("org.quiz.hint", SECRET, {"hint_id": SECRET})])
    send(any_app, key_a, [custom("org.quiz.hint", {"hint_id": "secret-hint-h1"})])
    send(any_app, key_b, [custom("org.quiz.hint", {"other_field": 1})])
    assert stored_warnings(any_app, "test", "org.quiz.hint") == [[]]
    [warnings_b] = stored_warnings(any_app, "other", "org.quiz.hint")
    assert len(warnings_b) == 1 and "is not registered" in warnings_b[0]
    assert SECRET not in json.dumps(warnings_b)

    client = any_app.test_client()
    log_in(client)
    for url in ("/v1/catalog?site=other", "/dashboard/catalog?site=other"):
        body = client.get(url).get_data(as_text=True)
        assert "org.quiz.hint" in body, url
        assert SECRET not in body and "secret-hint-h1" not in body, url
    own = client.get("/v1/catalog?site=test").get_json()["events"]
    [entry] = [e for e in own if e["name"] == "org.quiz.hint"]
    assert entry["site"] == "test" and entry["registered"] and entry["description"] == SECRET
    theirs = client.get("/v1/catalog?site=other").get_json()["events"]
    [entry] = [e for e in theirs if e["name"] == "org.quiz.hint"]
    assert entry["site"] == "other" and not entry["registered"] and entry["count"] == 1
    # All sites: one entry per site.
    both = [e for e in client.get("/v1/catalog").get_json()["events"]
            if e["name"] == "org.quiz.hint"]
    assert sorted(e["site"] for e in both) == ["other", "test"]
    assert client.get("/v1/catalog?site=nope").status_code == 400


def test_another_site_cannot_change_or_block_a_registration(any_app: Flask) -> None:
    key_a, key_b = two_sites(any_app)
    send(any_app, key_a, [register("org.quiz.hint", SECRET, {"hint_id": "Which hint."})])
    # Site B registers the same name and version with other fields: no conflict, its own.
    send(any_app, key_b, [register("org.quiz.hint", "B's text", {"b_field": "B."})])
    assert stored_warnings(any_app, "other", "collector.register") == [[]]
    send(any_app, key_b, [custom("org.quiz.hint", {"b_field": 1})])
    send(any_app, key_a, [custom("org.quiz.hint", {"hint_id": "h"})])
    assert stored_warnings(any_app, "other", "org.quiz.hint") == [[]]
    assert stored_warnings(any_app, "test", "org.quiz.hint") == [[]]
    client = any_app.test_client()
    log_in(client)
    entries = {e["site"]: e for e in client.get("/v1/catalog").get_json()["events"]
               if e["name"] == "org.quiz.hint"}
    assert entries["test"]["description"] == SECRET
    assert entries["test"]["fields"] == {"hint_id": "Which hint."}
    assert entries["other"]["description"] == "B's text"


def test_cli_catalog_export_of_one_site(app: Flask) -> None:
    from collector.cli.main import main

    key_a, key_b = two_sites(app)
    send(app, key_a, [register("org.quiz.hint", SECRET, {"hint_id": "x"})])
    send(app, key_b, [custom("org.quiz.hint", {"hint_id": "x"})])
    result = app.test_cli_runner().invoke(main, ["catalog", "export", "--site", "other"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.stdout
    [entry] = [e for e in json.loads(result.stdout)["events"] if e["name"] == "org.quiz.hint"]
    assert (entry["site"], entry["versions"], entry["count"]) == ("other", [], 1)


def test_migration_keeps_old_registrations_for_the_sites_that_used_them(
        database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        cfg = alembic_config(database_url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0008_user_sessions")
        with engine.begin() as conn:
            for site_id, name in ((1, "a"), (2, "b"), (3, "c")):
                conn.execute(text("INSERT INTO sites (id, name, write_key, origins, "
                                  "created_at) VALUES (:i, :n, :k, '[]', 0)"),
                             {"i": site_id, "n": name, "k": f"k{site_id}"})
            for name in ("org.used.by_a", "org.unused"):
                conn.execute(text(
                    "INSERT INTO event_types (name, version, schema_id, description, fields, "
                    "source, registered_at, updated_at) VALUES (:n, 1, :s, 'd', '{}', "
                    "'browser', 1, 1)"), {"n": name, "s": f"{name}/v1"})
            for mid, site_id, name in (("m1", 1, "org.used.by_a"), ("m2", 1, "org.used.by_a"),
                                       ("m3", 2, "IMPRESSION")):
                conn.execute(text(
                    "INSERT INTO events (mid, site_id, eid, name, ets, received_at, actor_id, "
                    "payload) VALUES (:m, :s, 'EXDATA', :n, 5, 5, 'a', '{}')"),
                    {"m": mid, "s": site_id, "n": name})
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0009_site_registrations")
        with engine.connect() as conn:
            types = sorted(tuple(r) for r in conn.execute(text(
                "SELECT name, site_id FROM event_types")))
            names = sorted(tuple(r) for r in conn.execute(text(
                "SELECT site_id, name, count FROM event_names")))
        assert types == [("org.unused", 1), ("org.unused", 2), ("org.unused", 3),
                         ("org.used.by_a", 1)]
        assert names == [(1, "org.used.by_a", 2), (2, "IMPRESSION", 1)]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008_user_sessions")
        with engine.connect() as conn:
            assert sorted(r[0] for r in conn.execute(text("SELECT name FROM event_types"))) == [
                "org.unused", "org.used.by_a"]
    finally:
        engine.dispose()
