"""The stock Sunbird telemetry SDK (npm, run in node) works unchanged against the collector."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from collector.core.events.schema import EIDS
from collector.outbound.export import ExportFilter, iter_export
from collector.storage.engine import get_engine
from collector.storage.models import Event, RejectedEvent
from tests.conftest import LiveServer, unavailable

SDK_DIR = Path(__file__).parent / "js" / "sunbird"


# As the SDK is set up stand-alone, and as Sunbird players set it up inside a course
# (a Course correlation, the content as every event's object, no Lesson).
@pytest.mark.parametrize("cdata", [[], [{"type": "Course", "id": "do_course_1"}]],
                         ids=["no-context", "course-context"])
def test_sunbird_sdk_delivers_every_event_and_sees_success(live_server: LiveServer,
                                                           cdata: list[dict[str, str]]) -> None:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    if not (SDK_DIR / "node_modules" / "@project-sunbird" / "telemetry-sdk").is_dir():
        unavailable(f"run `npm ci --prefix {SDK_DIR}` (scripts/test does)")
    proc = subprocess.run([str(node), "send_all.js", live_server.url, live_server.key,
                           json.dumps(cdata)],
                          cwd=SDK_DIR, capture_output=True, text=True, timeout=60, check=False)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["failures"] == [], proc.stderr
    bodies = [r["body"] for r in report["responses"]]
    assert all(b["responseCode"] == "SUCCESS" and b["params"]["status"] == "successful"
               for b in bodies)
    assert sum(b["result"]["accepted"] for b in bodies) == 17
    assert all(b["result"]["rejected"] == [] for b in bodies)
    sent_mids = [m for r in report["responses"] for m in r["mids"]]
    with get_engine(live_server.app).connect() as conn:
        stored = conn.execute(select(Event.mid, Event.eid, Event.warnings,
                                     Event.course_id)).all()
        assert conn.execute(select(RejectedEvent.id)).all() == []
    assert sorted(r.mid for r in stored) == sorted(sent_mids)
    assert sorted(r.eid for r in stored) == sorted(EIDS)
    # What the SDK sends that the spec's intent allows is kept, with a warning recorded.
    warnings = [w for r in stored if r.warnings for w in json.loads(r.warnings)]
    assert "context.sid: empty; the event belongs to no session" in warnings
    if cdata:
        assert {r.course_id for r in stored} == {"do_course_1"}
        assert any(w.startswith("ASSESS in a course without a lesson") for w in warnings)
        # The answer reaches xAPI as `answered`, in the course's context.
        statements = [json.loads(s) for s in iter_export(
            "xapi", get_engine(live_server.app), ExportFilter(), "http://localhost")]
        [answered] = [s for s in statements if s["verb"]["id"].endswith("/answered")]
        assert answered["object"]["id"] == "urn:collector:check:q1"
        assert answered["context"]["contextActivities"]["parent"][0]["id"] == (
            "urn:collector:course:do_course_1")
