"""U+0000 anywhere in an event: PostgreSQL text cannot hold it. Fields stored in a column
of their own are refused with a reason at validation; free text (answers, payloads,
reasons) is kept with U+0000 shown as U+FFFD. No such event is ever a storage error,
and its batch siblings are stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from collector.ingest.pipeline import get_pipeline
from collector.storage.sites import get_directory
from tests.factories import event, lesson_event

NUL = "\u0000"


def _cases() -> dict[str, dict[str, Any]]:
    env = event()
    env["context"]["env"] = f"e{NUL}v"
    return {
        "uri": event("IMPRESSION", edata={"type": "view", "pageid": "p", "uri": f"/a{NUL}"}),
        "interact id": event("INTERACT", edata={"type": "click", "id": f"b{NUL}"}),
        "env": env,
        "item id": lesson_event("ASSESS", edata={
            "item": {"id": f"q{NUL}", "maxscore": 1, "exlength": 0, "params": [], "uri": "",
                     "title": "t", "mmc": [], "mc": [], "desc": ""},
            "index": 1, "pass": "Yes", "score": 1, "resvalues": [], "duration": 1}),
        "mid": event(mid=f"m{NUL}"),
    }


@pytest.mark.parametrize("field", sorted(_cases()))
def test_nul_in_a_stored_field_is_refused_with_a_reason(
        make_app: Callable[..., Flask], database_url: str, field: str) -> None:
    app = make_app(database_url)
    auth = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert auth is not None
    sibling = event("INTERACT", edata={"type": "click", "id": "fine"})
    body = json.dumps({"events": [_cases()[field], sibling]}).encode()
    result = get_pipeline(app).ingest_body(auth, body, transport="http")
    assert result.accepted == 1, result.rejected
    [refused] = result.rejected
    assert refused["index"] == 0
    assert any("U+0000" in e for e in refused["errors"]), refused["errors"]


def test_nul_in_an_answer_is_kept_as_replacement_character(
        make_app: Callable[..., Flask], database_url: str) -> None:
    app = make_app(database_url)
    auth = get_directory(app).authenticate(app.config["TEST_SITE"].key)
    assert auth is not None
    answer = lesson_event("ASSESS", edata={
        "item": {"id": "q1", "maxscore": 1, "exlength": 0, "params": [], "uri": "",
                 "title": "t", "mmc": [], "mc": [], "desc": ""},
        "index": 1, "pass": "Yes", "score": 1, "resvalues": [{"answer": f"x{NUL}y"}],
        "duration": 1})
    result = get_pipeline(app).ingest_body(
        auth, json.dumps({"events": [answer]}).encode(), transport="http")
    assert (result.accepted, result.rejected) == (1, [])
