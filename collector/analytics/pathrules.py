"""Saved path-cleaning rules: regex -> label, per site, applied when flows are drawn.

Patterns are user input applied to attacker-controlled page names, so they run on RE2
(google-re2): it never backtracks, matching time is linear in the input, and compiling
is bounded by ``max_mem``. Python's ``re`` would let ``(a+)+$`` against a long page
name pin a CPU for minutes. On top of that a pattern is at most 200 characters, a site
keeps at most 50 rules, and the input is a label of at most 512 characters, so the
cost of cleaning a label has a small fixed ceiling without any timeout.

Replacing can still multiply text (a one-character match becomes a 200-character
label), so a pattern that matches the empty string is refused, zero-width matches of
saved patterns (``\\b``) replace nothing, and every rule's output is cut at MAX_OUTPUT
characters while it is built: 50 rules on any page name cost at most 50 passes over
MAX_OUTPUT characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import re2
from sqlalchemy import Connection, select

from collector.storage.models import PathRule

MAX_PATTERN = 200
MAX_LABEL = 200
MAX_RULES = 50
MAX_INPUT = 512
MAX_OUTPUT = 512

_options = re2.Options()
_options.log_errors = False
_options.max_mem = 1 << 20


def compile_pattern(pattern: str) -> Any:
    """Compile ``pattern`` with RE2 or raise ValueError saying what is wrong."""
    if not pattern:
        raise ValueError("pattern: required")
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"pattern: at most {MAX_PATTERN} characters")
    try:
        compiled = re2.compile(pattern, _options)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ValueError(f"pattern {pattern!r}: {detail} (RE2 syntax: no backreferences "
                         "or lookaround)") from None
    if compiled.search("") is not None:
        raise ValueError(f"pattern {pattern!r} matches the empty string, so it would insert "
                         "its label between every two characters; make it match at least "
                         "one character (e.g. z+ instead of z*)")
    return compiled


def replace_capped(pattern: Any, label: str, text: str) -> str:
    """Every non-empty match of ``pattern`` in ``text`` replaced by ``label`` (literal
    text, never a template), stopping once the result reaches MAX_OUTPUT characters."""
    parts: list[str] = []
    size = last = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        parts += (text[last:start], label)
        size += start - last + len(label)
        last = end
        if size >= MAX_OUTPUT:
            break
    else:
        parts.append(text[last:])
    return "".join(parts)[:MAX_OUTPUT]


def check_label(label: str) -> str:
    label = label.strip()
    if not label:
        raise ValueError("label: required")
    if len(label) > MAX_LABEL:
        raise ValueError(f"label: at most {MAX_LABEL} characters")
    return label


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    label: str


class Cleaner:
    """Applies a site's rules in order; each replaces every match with its label."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._compiled = []
        for rule in rules[:MAX_RULES]:
            try:
                self._compiled.append((compile_pattern(rule.pattern), rule.label))
            except ValueError:
                continue  # a rule saved under an older validator: skip, never crash a page
        self._memo: dict[str, str] = {}

    def __call__(self, label: str) -> str:
        hit = self._memo.get(label)
        if hit is not None:
            return hit
        out = label[:MAX_INPUT]
        for pattern, replacement in self._compiled:
            out = replace_capped(pattern, replacement, out)
        self._memo[label] = out
        return out


def load_cleaners(conn: Connection, site_ids: Iterable[int] | None = None) -> dict[int, Cleaner]:
    """Site id -> Cleaner of its saved rules (in the order they were added)."""
    stmt = select(PathRule.site_id, PathRule.pattern, PathRule.label).order_by(PathRule.id)
    if site_ids is not None:
        stmt = stmt.where(PathRule.site_id.in_(list(site_ids)))
    rules: dict[int, list[Rule]] = {}
    for site_id, pattern, label in conn.execute(stmt):
        rules.setdefault(site_id, []).append(Rule(pattern, label))
    return {site_id: Cleaner(r) for site_id, r in rules.items()}
