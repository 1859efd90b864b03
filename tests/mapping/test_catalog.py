"""The catalog (collector/core/mapping/catalog.json) says what the code does, and docs/MAPPING.md
shows it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from collector.core.events.schema import EIDS
from collector.core.mapping import MappingContext, Skip
from collector.core.mapping.caliper import caliper_candidate, caliper_envelope, caliper_events
from collector.core.mapping.catalog import iri_table, mapping_catalog, markdown_table, skip_table
from collector.core.mapping.xapi import xapi_candidate, xapi_statement
from tests.factories import event
from tests.mapping.validators import assert_valid_caliper, assert_valid_xapi

ROOT = Path(__file__).resolve().parents[2]
ROWS = mapping_catalog()["rows"]


def example_event(row: dict[str, Any]) -> dict[str, Any]:
    ex = row["example"]
    return event(ex["eid"], edata=ex.get("edata"), cdata=ex.get("cdata"), obj=ex.get("object"))


def context(row: dict[str, Any]) -> MappingContext:
    return MappingContext("http://localhost", chain_root="sid-1",
                          duplicate=bool(row.get("duplicate")))


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['event']}|{r['when']}"[:60] for r in ROWS])
def test_row_matches_the_mappers(row: dict[str, Any]) -> None:
    ev = example_event(row)
    ctx = context(row)
    stored_lesson = next((c["id"] for c in ev["context"]["cdata"] if c["type"] == "Lesson"),
                         None)
    if stored_lesson is None and ev.get("object", {}).get("type") == "Lesson":
        stored_lesson = ev["object"]["id"]
    statement = xapi_statement(ev, ctx)
    if "xapi" in row:
        assert isinstance(statement, dict), statement
        assert statement["verb"]["id"] == row["xapi"]["verb"]
        assert statement["object"]["definition"]["type"] == row["xapi"]["activity_type"]
        assert statement["object"]["id"] == row["xapi"]["object"]
        assert_valid_xapi([statement])
    else:
        assert isinstance(statement, Skip) and statement.code == row["xapi_skip"]
        assert not statement.error  # catalog rows are valid events: skips are by design
    # The outbox pre-check must never drop an event that maps.
    if isinstance(statement, dict):
        assert xapi_candidate(ev["eid"], ev["edata"].get("type"), stored_lesson,
                              ctx.duplicate)

    events = caliper_events(ev, ctx)
    if "caliper" in row:
        assert isinstance(events, list), events
        assert [(e["type"], e["action"], e["object"]["type"]) for e in events] == [
            (c["type"], c["action"], c["object_type"]) for c in row["caliper"]]
        assert_valid_caliper(caliper_envelope(events, "http://localhost", 1_763_000_000_000))
        assert caliper_candidate(ev["eid"], ev["edata"].get("type"), ctx.duplicate)
    else:
        assert isinstance(events, Skip) and events.code == row["caliper_skip"]


def test_every_eid_is_in_the_catalog() -> None:
    assert {row["example"]["eid"] for row in ROWS} == set(EIDS)


def test_every_skip_code_in_the_code_is_explained() -> None:
    source = "".join((ROOT / "collector" / "core" / "mapping" / name).read_text()
                     for name in ("xapi.py", "caliper.py", "source.py"))
    codes = set(re.findall(r'Skip\(\s*"([a-z-]+)"', source))
    explained = set(mapping_catalog()["skips"])
    assert codes and codes <= explained, codes - explained
    used = {r.get("xapi_skip") for r in ROWS} | {r.get("caliper_skip") for r in ROWS}
    assert used - {None} <= explained


def test_mapping_page_shows_the_catalog() -> None:
    page = (ROOT / "docs" / "MAPPING.md").read_text()
    assert markdown_table() in page
    assert skip_table() in page


def _iri_pattern(documented: str) -> re.Pattern[str]:
    parts = re.split(r"<[^>]+>", documented)
    return re.compile("[^:]+".join(map(re.escape, parts)) + "$")


def _activity_ids(statement: dict[str, Any]) -> list[str]:
    ids = [statement["object"]["id"]]
    activities = statement["context"].get("contextActivities", {})
    ids += [a["id"] for kind in ("parent", "grouping") for a in activities.get(kind, [])]
    return ids


def test_every_activity_iri_is_documented() -> None:
    documented = [row["iri"] for row in mapping_catalog()["iris"]]
    patterns = {iri: _iri_pattern(iri.replace("<PUBLIC_URL>", "http://localhost"))
                for iri in documented}
    used: set[str] = set()
    for row in ROWS:
        statement = xapi_statement(example_event(row), context(row))
        if isinstance(statement, Skip):
            continue
        for iri in _activity_ids(statement):
            matching = [doc for doc, pattern in patterns.items() if pattern.match(iri)]
            assert matching, f"{iri} (row {row['event']}|{row['when']}) is not documented"
            # The most specific pattern is the one the IRI is an instance of.
            used.add(max(matching, key=len))
    assert used == set(documented), set(documented) - used


def test_mapping_page_documents_every_iri() -> None:
    assert iri_table() in (ROOT / "docs" / "MAPPING.md").read_text()
