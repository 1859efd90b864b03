"""Strict xAPI 1.0.3 and Caliper 1.2 validators the mapping, export and forward tests share.

xAPI: every statement must pass BOTH ralph's pydantic statement models (extra fields
forbidden, rfc3987 IRIs, UUIDs, score bounds) and Learning Locker's conformance-tested
validator (@learninglocker/xapi-validation, run with node), plus the zone rule that
ralph's datetime alone does not enforce. Caliper: the JSON Schema beside this file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
LL_DIR = ROOT / "tests" / "js" / "xapi-validation"
CALIPER_SCHEMA = json.loads((Path(__file__).with_name("caliper_1p2.schema.json")).read_text())
ZONED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def ralph_problems(statement: dict[str, Any]) -> list[str]:
    from pydantic import ValidationError
    from ralph.models.xapi.base.statements import BaseXapiStatement

    try:
        BaseXapiStatement.model_validate(statement)
    except ValidationError as exc:
        return [f"ralph: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


def learning_locker_problems(statements: list[dict[str, Any]]) -> list[list[str]]:
    node = shutil.which("node")
    if node is None or not (LL_DIR / "node_modules" / "@learninglocker").is_dir():
        unavailable("node and `npm ci --prefix tests/js/xapi-validation` are needed for "
                    "the Learning Locker xAPI validator")
    done = subprocess.run([str(node), str(LL_DIR / "validate.js")], input=json.dumps(statements),
                          capture_output=True, text=True, timeout=60, check=True)
    return [[f"learninglocker: {w['path']}: {w['message']}" for w in found]
            for found in json.loads(done.stdout)]


def xapi_problems(statements: list[dict[str, Any]]) -> list[list[str]]:
    """Per statement, every problem the strict validators find (empty lists: all valid)."""
    report = learning_locker_problems(statements) if statements else []
    for statement, found in zip(statements, report, strict=True):
        found.extend(ralph_problems(statement))
        stamp = statement.get("timestamp")
        if not isinstance(stamp, str) or not ZONED.match(stamp):
            found.append(f"timestamp {stamp!r} without a zone")
    return report


def assert_valid_xapi(statements: list[dict[str, Any]]) -> None:
    bad = {i: p for i, p in enumerate(xapi_problems(statements)) if p}
    assert not bad, "invalid xAPI statements:\n" + "\n".join(
        f"#{i} {json.dumps(statements[i])[:300]}\n  " + "\n  ".join(p) for i, p in bad.items())


def caliper_problems(envelope: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(CALIPER_SCHEMA)
    return [f"{e.json_path}: {e.message[:200]}" for e in validator.iter_errors(envelope)]


def assert_valid_caliper(envelope: dict[str, Any]) -> None:
    problems = caliper_problems(envelope)
    assert not problems, "invalid Caliper envelope:\n" + "\n".join(problems)
