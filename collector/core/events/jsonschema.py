"""JSON Schema files generated from the validator's own types (one per eid).

``collector schema export --out schemas`` writes them; ``schemas/`` in the repository is
that output and a test keeps it in step with the code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from collector.core.events.schema import EID_DESCRIPTIONS, EVENT_TYPES

SCHEMA_BASE = "urn:collector:schema:v3:"

REFUSED = ("An event that fails this schema is refused (quarantined with its reasons); "
           "one that passes is stored.")
WARNED_ALWAYS = ("Stored with a warning: a missing mid (a deterministic one is assigned), ets "
                 "in seconds or more than a day ahead, an empty context.sid, an object "
                 "without id or type, a missing optional edata.")
# The collector's own conventions per eid: never a reason to refuse, only a warning.
WARNED: dict[str, str] = {
    "START": " A course START without a course id (cdata or object {type: 'Course'}) or a "
             "lesson START without a lesson id is stored with a warning.",
    "END": " A course END without a course id or a lesson END without a lesson id is "
           "stored with a warning.",
    "ASSESS": " An ASSESS in a course (cdata {type: 'Course'}) without a Lesson is stored "
              "with a warning.",
    "EXDATA": " A custom event (dotted edata.type) that does not match its registration is "
              "stored with a warning.",
}


def event_schema(eid: str) -> dict[str, Any]:
    """A self-contained JSON Schema (draft 2020-12) for one eid."""
    (root,), components = msgspec.json.schema_components(
        [EVENT_TYPES[eid]], ref_template="#/$defs/{name}")
    name = root["$ref"].rsplit("/", 1)[1]
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + eid.lower(),
        **components.pop(name),
        "title": f"Telemetry V3 {eid}",
        "description": (f"{EID_DESCRIPTIONS[eid]} Unknown properties are allowed and kept. "
                        f"{REFUSED} {WARNED_ALWAYS}{WARNED.get(eid, '')}"),
        "$defs": components,
    }
    _allow_extra(schema)
    return schema


def _allow_extra(node: Any) -> None:
    # msgspec Structs ignore unknown fields; say so in the schema.
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.pop("additionalProperties", None)
        for value in node.values():
            _allow_extra(value)
    elif isinstance(node, list):
        for value in node:
            _allow_extra(value)


def all_schemas() -> dict[str, dict[str, Any]]:
    return {eid: event_schema(eid) for eid in EVENT_TYPES}


def write_schemas(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for eid, schema in all_schemas().items():
        path = out / f"{eid.lower()}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths
