"""The ``collector`` command line, as other tools call it."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from collector.cli.main import main
from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import make_engine
from collector.storage.sites import SiteDirectory, get_directory
from tests.factories import course_start, event

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("COLLECTOR_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COLLECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("COLLECTOR_SECRET_KEY", "cli-test")
    return CliRunner()


def run(cli: CliRunner, *args: str, input: str | None = None, ok: bool = True) -> str:
    result = cli.invoke(main, list(args), input=input, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
        return result.stdout
    assert result.exit_code != 0, result.output
    return result.output


def test_site_add_prints_the_write_key_last(cli: CliRunner, sqlite_url: str) -> None:
    out = run(cli, "site", "add", "physics", "--origin", "https://Physics.example.org:443/",
              "--origin", "http://localhost:8000")
    key = out.strip().splitlines()[-1]
    assert key.startswith("ck_")
    engine = make_engine(sqlite_url)
    try:
        site = SiteDirectory(engine).authenticate(key)
        assert site is not None and site.name == "physics"
        assert site.origins == {"https://physics.example.org", "http://localhost:8000"}
    finally:
        engine.dispose()
    assert "already exists" in run(cli, "site", "add", "physics", ok=False)


def test_site_add_rejects_a_bad_origin(cli: CliRunner) -> None:
    out = run(cli, "site", "add", "x", "--origin", "physics.example.org/path", ok=False)
    assert "expected scheme://host[:port]" in out


def test_user_add_from_stdin(cli: CliRunner) -> None:
    assert "user 'bob' created" in run(cli, "user", "add", "bob", "--password-stdin",
                                       input="a long password\n")
    assert "at least 8 characters" in run(cli, "user", "add", "eve", "--password-stdin",
                                          input="short\n", ok=False)
    assert "already exists" in run(cli, "user", "add", "bob", "--password-stdin",
                                   input="a long password\n", ok=False)


def _ingest(sqlite_url: str, events: list[object]) -> None:
    from collector.app import create_app, shutdown
    from collector.storage.engine import get_engine, session, upgrade
    from collector.storage.sites import create_site

    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": "x", "RATE_LIMIT": 0})
    try:
        upgrade(get_engine(app))
        with session(app) as s:
            site = create_site(s, "cli", [])
            s.commit()
            key = site.write_key
        auth = get_directory(app).authenticate(key)
        assert auth is not None
        get_pipeline(app).ingest_body(auth, msgspec.json.encode({"events": events}),
                                      transport="http")
    finally:
        shutdown(app)


def test_stats_json(cli: CliRunner, sqlite_url: str) -> None:
    run(cli, "db", "upgrade")
    core = ("events", "rejected", "duplicates", "sessions")
    stats = json.loads(run(cli, "stats", "--json"))
    assert all(isinstance(v, int) for k, v in stats.items() if k != "pipeline")
    assert stats["pipeline"]["validate"]["events"] == 0
    assert {k: stats[k] for k in core} == {
        "events": 0, "rejected": 0, "duplicates": 0, "sessions": 0}
    ev = event(sid="s1")
    _ingest(sqlite_url, [ev, ev, {"eid": "NOPE"}])
    stats = json.loads(run(cli, "stats", "--json").strip().splitlines()[-1])
    assert {k: stats[k] for k in core} == {
        "events": 1, "rejected": 1, "duplicates": 1, "sessions": 1}
    # Per-step timing of the process that ingested, read from the instance folder.
    steps = stats["pipeline"]
    assert steps["validate"]["events"] == 3 and steps["validate"]["calls"] == 1
    assert steps["decode"]["calls"] == 1 and steps["persist"]["calls"] >= 1
    assert steps["after_commit"]["events"] == 1
    assert all(row["seconds"] >= 0 for row in steps.values())


def test_export_v3_json_and_ndjson(cli: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    old = event(ets=1_700_000_000_000)
    algebra = course_start("algebra", ets=1_763_000_000_000)
    other = event(ets=1_763_000_000_000)
    _ingest(sqlite_url, [old, algebra, other])
    out = tmp_path / "all.json"
    run(cli, "export", "v3", "--format", "json", "--out", str(out))
    assert sorted(e["mid"] for e in json.loads(out.read_text())) == sorted(
        [old["mid"], algebra["mid"], other["mid"]])
    out = tmp_path / "recent.ndjson"
    run(cli, "export", "v3", "--format", "ndjson", "--since", "2025-01-01", "--out", str(out))
    lines = out.read_text().splitlines()
    assert sorted(json.loads(line)["mid"] for line in lines) == sorted(
        [algebra["mid"], other["mid"]])
    stdout = run(cli, "export", "v3", "--course", "algebra")
    exported = json.loads(stdout[stdout.index("["):stdout.rindex("]") + 1])
    assert [e["mid"] for e in exported] == [algebra["mid"]]
    assert "not an ISO 8601 date" in run(cli, "export", "v3", "--since", "yesterday", ok=False)


def test_committed_json_schemas_match_the_validator(cli: CliRunner, tmp_path: Path) -> None:
    run(cli, "schema", "export", "--out", str(tmp_path))
    produced = sorted(p.name for p in tmp_path.glob("*.schema.json"))
    assert len(produced) == 17
    for name in produced:
        assert (tmp_path / name).read_text() == (REPO / "schemas" / name).read_text(), name
