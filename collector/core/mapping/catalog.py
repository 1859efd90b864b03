"""The mapping catalog (``catalog.json``): what each V3 event becomes, as data and as a table."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("catalog.json")
_SHORT = {"http://adlnet.gov/expapi/verbs/": "adl:", "http://id.tincanapi.com/verb/": "tincan:",
          "http://adlnet.gov/expapi/activities/": "adl:",
          "http://activitystrea.ms/schema/1.0/": "activitystrea.ms:"}


@functools.cache
def mapping_catalog() -> dict[str, Any]:
    """The catalog as loaded from ``catalog.json`` (read once)."""
    data: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return data


def _short(iri: str) -> str:
    for prefix, short in _SHORT.items():
        if iri.startswith(prefix):
            return short + iri[len(prefix):]
    return iri


def _xapi_cell(row: dict[str, Any]) -> tuple[str, str]:
    if "xapi" not in row:
        return f"none ({row['xapi_skip']})", ""
    xapi = row["xapi"]
    return f"`{_short(xapi['verb'])}`", f"`{xapi['object']}` ({_short(xapi['activity_type'])})"


def _caliper_cell(row: dict[str, Any]) -> str:
    if "caliper" not in row:
        return f"none ({row['caliper_skip']})"
    return " + ".join(f"{c['type']} {c['action']} ({c['object_type']})" for c in row["caliper"])


def markdown_table() -> str:
    """The catalog as the Markdown table shown in docs/MAPPING.md."""
    lines = ["| V3 event | lesson call | when | xAPI verb | xAPI object (type) | Caliper |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in mapping_catalog()["rows"]:
        verb, obj = _xapi_cell(row)
        lines.append(f"| {row['event']} | {row['call'] or '—'} | {row['when']} | {verb} | "
                     f"{obj or '—'} | {_caliper_cell(row)} |")
    return "\n".join(lines) + "\n"


def skip_table() -> str:
    """Why an event maps to nothing, per reason code, as a Markdown table."""
    lines = ["| reason | kind | why |", "| --- | --- | --- |"]
    for code, info in mapping_catalog()["skips"].items():
        kind = "mapping error (bad data)" if info["error"] else "by design"
        lines.append(f"| `{code}` | {kind} | {info['why']} |")
    return "\n".join(lines) + "\n"


def iri_table() -> str:
    """Every activity IRI the mappers use, as a Markdown table."""
    lines = ["| activity IRI | names | used as |", "| --- | --- | --- |"]
    for row in mapping_catalog()["iris"]:
        lines.append(f"| `{row['iri']}` | {row['names']} | {row['in']} |")
    return "\n".join(lines) + "\n"
