"""Checks that regular expressions cannot be made to backtrack for ever.

Patterns run in a child process with a time budget, so a catastrophic one fails the
test instead of hanging the suite. Reusable for any place that applies patterns to
attacker-controlled text, e.g. the dashboards' saved path rules::

    assert_user_patterns_bounded("collector.analytics.pathrules:compile_pattern")
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
from typing import Any

# Classic catastrophic-backtracking patterns (each exponential on a backtracking engine).
EVIL_PATTERNS = ["(a+)+$", "(a|a)*$", "(a|aa)+$", "(.*a){12}$", r"^(\w+\s?)*$",
                 "(x+x+)+y", r"^(([a-z])+.)+[A-Z]([a-z])+$"]


def evil_inputs(size: int = 4000) -> list[str]:
    return ["a" * size + "!", "x" * size, "word " * (size // 5) + "!", "a" * size,
            "." * size + "!", "\\" * size, '"' + "\\a" * (size // 2), "ab" * (size // 2) + "!"]


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _run_user_patterns(compile_ref: str, patterns: list[str]) -> None:
    compile_pattern = _load(compile_ref)
    for pattern in patterns:
        try:
            compiled = compile_pattern(pattern)
        except ValueError:
            continue  # refused: as good as bounded
        for text in evil_inputs():
            compiled.search(text)


def _run_patterns(patterns: list[Any]) -> None:
    for pattern in patterns:
        for text in evil_inputs(100_000):
            pattern.search(text)
            pattern.match(text)


def _within(target: Any, args: tuple[Any, ...], seconds: float) -> bool:
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=target, args=args, daemon=True)
    child.start()
    child.join(seconds)
    if child.is_alive():
        child.kill()
        child.join(10)
        child.close()
        return False
    code = child.exitcode
    child.close()
    if code != 0:
        raise AssertionError(f"pattern check crashed (exit code {code})")
    return True


def assert_user_patterns_bounded(compile_ref: str, seconds: float = 5.0) -> None:
    """``module:function`` compiles user patterns (or raises ValueError to refuse them);
    every evil pattern it accepts must search every evil input within ``seconds``."""
    assert _within(_run_user_patterns, (compile_ref, EVIL_PATTERNS), seconds), (
        f"{compile_ref} accepts a pattern that backtracks catastrophically")


def assert_patterns_bounded(patterns: list[Any], seconds: float = 5.0) -> None:
    """Compiled patterns (picklable: ``re.Pattern``) against 100 KB adversarial inputs."""
    assert _within(_run_patterns, (patterns,), seconds), (
        "a pattern took too long on adversarial input")
