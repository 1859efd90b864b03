"""Path-cleaning rules: RE2 patterns, bounded, labels taken literally."""

from __future__ import annotations

import time

import pytest

from collector.analytics.pathrules import Cleaner, Rule, check_label, compile_pattern


def test_rules_replace_every_match_in_order() -> None:
    clean = Cleaner([Rule(r"/lesson/\d+", "/lesson/:id"), Rule(r"\?.*$", "")])
    assert clean("/lesson/12/part/lesson/3?x=1") == "/lesson/:id/part/lesson/:id"


def test_labels_are_literal_text() -> None:
    assert Cleaner([Rule(r"(\d+)", r"\1-\g<0>")])("/a/7") == r"/a/\1-\g<0>"


def test_catastrophic_patterns_run_in_linear_time() -> None:
    clean = Cleaner([Rule(r"^(a+)+$", "x"), Rule(r"(a|aa)*c", "y")])
    started = time.perf_counter()
    for n in range(20):
        clean("a" * (400 + n) + "b")
    assert time.perf_counter() - started < 0.5  # Python's re needs hours for one of these


@pytest.mark.parametrize(("pattern", "message"), [
    ("", "required"), ("x" * 201, "at most 200"), (r"(a)\1", "no backreferences"),
    ("(?=a)", "invalid perl operator"), ("(", r"missing \)"),
])
def test_bad_patterns_are_refused_with_the_reason(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_pattern(pattern)


def test_labels_are_checked() -> None:
    assert check_label("  /a  ") == "/a"
    with pytest.raises(ValueError, match="required"):
        check_label(" ")
    with pytest.raises(ValueError, match="at most 200"):
        check_label("x" * 201)
