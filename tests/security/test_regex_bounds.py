"""Regular expressions applied to attacker-controlled text run in bounded time."""

from __future__ import annotations

import importlib
import pkgutil
import re

import collector
from tests.security.regex_bounds import assert_patterns_bounded, assert_user_patterns_bounded


def collector_patterns() -> list[re.Pattern[str]]:
    """Every module-level compiled pattern of the collector package."""
    found: list[re.Pattern[str]] = []
    for info in pkgutil.walk_packages(collector.__path__, "collector."):
        module = importlib.import_module(info.name)
        found += [v for v in vars(module).values()
                  if isinstance(v, re.Pattern) and isinstance(v.pattern, str)]
    return found


def test_collector_patterns_are_linear_on_adversarial_input() -> None:
    patterns = collector_patterns()
    assert any(p.pattern.startswith("^[A-Za-z0-9_-]+") for p in patterns)  # CUSTOM_NAME
    assert_patterns_bounded(patterns, seconds=10)


def test_the_check_catches_a_backtracking_engine() -> None:
    """Python's own ``re`` with user patterns is exactly what must be refused."""
    try:
        assert_user_patterns_bounded("re:compile", seconds=3)
    except AssertionError as exc:
        assert "backtracks catastrophically" in str(exc)
    else:
        raise AssertionError("re.compile passed the catastrophic-backtracking check")


def test_dashboard_path_rules_are_bounded() -> None:
    """Saved path-cleaning rules are user patterns: RE2 (linear time) or refused."""
    assert_user_patterns_bounded("collector.analytics.pathrules:compile_pattern")
