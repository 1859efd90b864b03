"""Path-cleaning rules cannot multiply text: patterns that match the empty string are
refused, zero-width matches replace nothing, and every rule's output has a ceiling."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask

from collector.analytics.pathrules import (
    MAX_INPUT,
    MAX_LABEL,
    MAX_OUTPUT,
    MAX_RULES,
    Cleaner,
    Rule,
    compile_pattern,
)
from tests.conftest import log_in
from tests.factories import event


@pytest.mark.parametrize("pattern", ["z*", "^", "$", "a?", "(x|)", "(?:)", "[a-z]{0,3}",
                                     "\\b|q*"])
def test_patterns_matching_the_empty_string_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        compile_pattern(pattern)


def test_zero_width_matches_replace_nothing() -> None:
    assert Cleaner([Rule("\\b", "X" * MAX_LABEL)])("one two three") == "one two three"


def test_the_reported_blowup_stays_under_the_ceiling() -> None:
    """``z*`` with a 200-character label three times turned 9 characters into 186 MiB."""
    label = "L" * MAX_LABEL
    assert len(Cleaner([Rule("z*", label)] * 3)("page-home")) <= MAX_OUTPUT
    assert len(Cleaner([Rule(".", label)] * 3)("page-home")) <= MAX_OUTPUT


def test_worst_rule_set_costs_a_small_fixed_amount() -> None:
    """The ceiling SECURITY.md promises: a cleaned label is at most MAX_OUTPUT characters
    whatever a site's MAX_RULES rules and the page name are."""
    label = "\u00e9" * MAX_LABEL
    for rules in ([Rule(".", label)] * MAX_RULES,
                  [Rule("(?s).", label), Rule("\u00e9", label)] * (MAX_RULES // 2)):
        started = time.process_time()
        out = Cleaner(rules)("p" * (MAX_INPUT * 4))
        spent = time.process_time() - started
        assert len(out) == MAX_OUTPUT
        assert spent < 2.0, spent  # about 1 ms here; the uncapped version ran out of memory


def _add_rule(client: object, pattern: str, label: str) -> str:
    client.get("/dashboard/flow")  # type: ignore[attr-defined]  # renders the CSRF token
    with client.session_transaction() as sess:  # type: ignore[attr-defined]
        token = sess["csrf"]
    response = client.post("/dashboard/flow/rules", data={  # type: ignore[attr-defined]
        "site": "test", "pattern": pattern, "label": label, "csrf_token": token})
    assert response.status_code == 302
    with client.session_transaction() as sess:  # type: ignore[attr-defined]
        return " ".join(message for _, message in sess.get("_flashes", []))


def test_dashboards_stay_small_with_hostile_rules(app: Flask) -> None:
    key = app.config["TEST_SITE"].key
    events = [event("IMPRESSION", sid="s1", edata={"type": "view", "pageid": "page-home",
                                                   "uri": "/" + "u" * 3000}),
              event("IMPRESSION", sid="s1", edata={"type": "view", "pageid": "page-next",
                                                   "uri": "/next"})]
    response = app.test_client().post("/v1/telemetry", data=json.dumps({"events": events}),
                                      headers={"Authorization": f"Bearer {key}"})
    assert response.get_json()["result"]["accepted"] == 2
    client = app.test_client()
    log_in(client)
    assert "empty string" in _add_rule(client, "z*", "Z" * MAX_LABEL)
    for _ in range(3):
        assert "Rule saved" in _add_rule(client, "[a-z]", "L" * MAX_LABEL)
    for path in ("/dashboard/data/flow", "/dashboard/data/overview", "/dashboard/flow"):
        body = client.get(path).get_data(as_text=True)
        assert len(body) < 100_000, (path, len(body))
