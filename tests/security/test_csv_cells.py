"""CSV downloads never hand a spreadsheet a formula from event-controlled text, however
the formula is padded (spaces, tabs, newlines before the ``=``)."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlencode

import pytest
from flask import Flask

from collector.web.dashboard.page_data import csv_cell
from tests.conftest import log_in
from tests.factories import lesson_event

FORMULAS = ["=1+1", "+1", "-1+1", "@SUM(A1)", " =1+1", "   =HYPERLINK(\"http://x\")",
            "\n=1+1", "\r\n=1", "\t=1", " \t\n+cmd|' /C calc'!A0", "\u00a0=1",
            "\u3000=1", "\uff1d1+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_padded_formulas_are_neutralised(text: str) -> None:
    assert csv_cell(text).startswith("'"), text


@pytest.mark.parametrize("text", ["plain", "a=b", "1-2", "sid 1", "", "x-1"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert csv_cell(text) == text


def test_dropoff_csv_neutralises_padded_formulas(app: Flask) -> None:
    key = app.config["TEST_SITE"].key
    sids = [" =1+1", "\n=2+2", "  @SUM(A1)"]
    events = [lesson_event("IMPRESSION", sid=sid) for sid in sids]
    response = app.test_client().post("/v1/telemetry", data=json.dumps({"events": events}),
                                      headers={"Authorization": f"Bearer {key}"})
    assert response.get_json()["result"]["accepted"] == 3
    client = app.test_client()
    log_in(client)
    query = urlencode([("step", "IMPRESSION"), ("step", "ASSESS"), ("level", "1")])
    body = client.get(f"/dashboard/funnel/dropoff.csv?{query}").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body)))[1:]
    assert sorted(row[1] for row in rows) == sorted("'" + sid for sid in sids)
