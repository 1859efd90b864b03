"""Funnels over the session timelines kept at ingest.

A funnel has 2 to 10 steps; a step is one condition or an OR of several, each an event
name (eid, or the dotted name of a custom EXDATA event) with optional property filters.
Units are sessions (session chains) or learners. Modes:

- ``ordered``: steps happen in order, other events may come between;
- ``strict``: each step is the very next event of the same session after the previous
  step (nothing in between);
- ``unordered``: the steps may happen in any order; a unit reaches level k when k
  distinct steps happened within the window.

Every mode needs the last step within ``window_ms`` of the first (inclusive). Among
several attempts a unit's deepest one counts; time to convert is taken from the first
attempt that reached each level. Duplicate course starts never reach the timelines.
"""

from __future__ import annotations

import math
import shlex
import statistics
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from collector.dashboard import timeline
from collector.dashboard.keys import KeyInfo
from collector.dashboard.queries.scope import Scope, timelines

MODES = ("ordered", "strict", "unordered")
UNITS = ("session", "learner")
MIN_STEPS, MAX_STEPS = 2, 10
MAX_ALTERNATIVES = 10
PROPERTIES = {
    "pageid": "page_id",
    "object.type": "object_type",
    "edata.type": "edata_type",
    "id": "target",
    "uri": "target",
    "course": "course_id",
}


@dataclass(frozen=True, slots=True)
class Condition:
    """An event name with property filters, e.g. ``IMPRESSION pageid=quiz``."""

    event: str
    props: tuple[tuple[str, str], ...] = ()

    def matches(self, key: KeyInfo) -> bool:
        if self.event not in (key.name, key.eid) and self.event.upper() != key.eid:
            return False
        return all(getattr(key, PROPERTIES[p]) == v for p, v in self.props)

    def __str__(self) -> str:
        return " ".join([self.event] + [f"{p}={shlex.quote(v)}" for p, v in self.props])


Step = tuple[Condition, ...]


def parse_step(text: str, where: str = "step") -> Step:
    """``NAME [prop=value ...] [| NAME ...]`` -> the OR of its conditions."""
    alternatives = [a.strip() for a in text.split("|")]
    if not text.strip() or not all(alternatives):
        raise ValueError(f"{where}: expected NAME [prop=value ...], alternatives separated "
                         "by |")
    if len(alternatives) > MAX_ALTERNATIVES:
        raise ValueError(f"{where}: at most {MAX_ALTERNATIVES} alternatives")
    out = []
    for alt in alternatives:
        try:
            words = shlex.split(alt)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc} in {alt!r}") from None
        props = []
        for word in words[1:]:
            prop, eq, value = word.partition("=")
            if not eq or prop not in PROPERTIES:
                raise ValueError(f"{where}: {word!r} is not prop=value with prop one of "
                                 f"{', '.join(PROPERTIES)}")
            props.append((prop, value))
        if "=" in words[0]:
            raise ValueError(f"{where}: starts with an event name (eid or custom name), "
                             f"not {words[0]!r}")
        out.append(Condition(words[0], tuple(props)))
    return tuple(out)


def step_text(step: Step) -> str:
    return " | ".join(str(c) for c in step)


@dataclass(frozen=True, slots=True)
class FunnelSpec:
    steps: tuple[Step, ...]
    mode: str = "ordered"
    window_ms: int = 86_400_000
    unit: str = "session"
    scope: Scope = Scope()

    def __post_init__(self) -> None:
        if not MIN_STEPS <= len(self.steps) <= MAX_STEPS:
            raise ValueError(f"steps: between {MIN_STEPS} and {MAX_STEPS}, "
                             f"got {len(self.steps)}")
        if self.mode not in MODES:
            raise ValueError(f"mode: one of {', '.join(MODES)}")
        if self.unit not in UNITS:
            raise ValueError(f"count by: one of {', '.join(UNITS)}")
        if self.window_ms <= 0:
            raise ValueError("window: must be positive")


@dataclass(slots=True)
class StepResult:
    label: str
    count: int
    from_previous: float | None  # share of the previous step's count
    from_first: float | None
    median_ms: float | None  # time from the previous step
    p90_ms: float | None
    dropped: list[tuple[int, str, int]] = field(default_factory=list)  # site, unit, last ets


@dataclass(slots=True)
class FunnelResult:
    steps: list[StepResult]
    units: int  # units with at least one event matching a step


# One matched event: (ets, rank in its session, row number, steps it matches descending)
Match = tuple[int, int, int, tuple[int, ...]]


def _step_index(keys: dict[int, KeyInfo], spec: FunnelSpec) -> dict[int, tuple[int, ...]]:
    """Key id -> the steps it matches, highest first (so one event advances one level)."""
    out: dict[int, tuple[int, ...]] = {}
    scope = spec.scope
    for key in keys.values():
        if scope.site_id is not None and key.site_id != scope.site_id:
            continue
        if scope.course and key.course_id != scope.course:
            continue
        hits = tuple(i for i in range(len(spec.steps) - 1, -1, -1)
                     if any(c.matches(key) for c in spec.steps[i]))
        if hits:
            out[key.id] = hits
    return out


def _matches(words: array[int], in_order: int, steps_of: dict[int, tuple[int, ...]],
             scope: Scope, row: int) -> list[Match]:
    ids = timeline.key_ids(words)
    hits = [i for i, k in enumerate(ids) if k in steps_of]
    if not hits:
        return []
    if in_order:
        found = [(timeline.ets_at(words, i), i, row, steps_of[ids[i]]) for i in hits]
    else:
        rank = {i: r for r, i in enumerate(timeline.time_order(words, False))}
        found = [(timeline.ets_at(words, i), rank[i], row, steps_of[ids[i]]) for i in hits]
    if scope.has_time():
        found = [m for m in found if scope.in_time(m[0])]
    return found


def _sequential(events: Sequence[Match], k: int, window: int, strict: bool
                ) -> list[tuple[int, ...] | None]:
    """Per level, the step times of the first chain that reached it (None: not reached)."""
    state: list[tuple[tuple[int, ...], int, int] | None] = [None] * k
    first: list[tuple[int, ...] | None] = [None] * k
    for ets, pos, row, steps in events:
        for j in steps:
            if j == 0:
                state[0] = ((ets,), row, pos)
            else:
                prev = state[j - 1]
                if prev is None or ets - prev[0][0] > window:
                    continue
                if strict and (prev[1] != row or prev[2] != pos - 1):
                    continue
                state[j] = (prev[0] + (ets,), row, pos)
            if first[j] is None:
                first[j] = state[j][0]  # type: ignore[index]
    return first


def _any_order(events: Sequence[Match], k: int, window: int) -> list[tuple[int, ...] | None]:
    """Unordered: the window start reaching the most distinct steps (earliest on ties)."""
    best: list[int] = []
    n = len(events)
    suffix = [0] * (n + 1)  # distinct steps from i on: no later start can beat it
    seen: set[int] = set()
    for i in range(n - 1, -1, -1):
        seen.update(events[i][3])
        suffix[i] = len(seen)
    for i in range(n):
        if suffix[i] <= len(best):
            break
        start = events[i][0]
        done: set[int] = set()
        times: list[int] = []
        for ets, _pos, _row, steps in events[i:]:
            if ets - start > window:
                break
            for s in reversed(steps):  # lowest step first
                if s not in done:
                    done.add(s)
                    times.append(ets)
                    break
            if len(done) == k:
                break
        if len(times) > len(best):
            best = times
            if len(best) == k:
                break
    return [tuple(best[:j + 1]) if j < len(best) else None for j in range(k)]


def _percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(share * len(ordered)) - 1)])


def run_funnel(conn: Connection, keys: dict[int, KeyInfo], spec: FunnelSpec) -> FunnelResult:
    """Count each step of ``spec`` over the timelines in its scope."""
    steps_of = _step_index(keys, spec)
    k = len(spec.steps)
    units: dict[tuple[int, str], list[Match]] = {}
    sorted_units: set[tuple[int, str]] = set()  # built from several rows: sort before use
    by_session = spec.unit == "session"
    row = 0
    if steps_of:
        for site_id, session_id, actor_id, in_order, text in timelines(
                conn, spec.scope, with_sessions_only=by_session):
            row += 1
            found = _matches(timeline.decode(text), in_order, steps_of, spec.scope, row)
            if not found:
                continue
            unit = (site_id, session_id if by_session else actor_id)
            have = units.get(unit)
            if have is None:
                units[unit] = found
            else:
                have.extend(found)
                sorted_units.add(unit)
    counts = [0] * k
    waits: list[list[int]] = [[] for _ in range(k)]
    dropped: list[list[tuple[int, str, int]]] = [[] for _ in range(k)]
    strict = spec.mode == "strict"
    for unit, events in units.items():
        if unit in sorted_units or not all(events[i][0] <= events[i + 1][0]
                                           for i in range(len(events) - 1)):
            events.sort(key=lambda m: (m[0], m[2], m[1]))
        if spec.mode == "unordered":
            first = _any_order(events, k, spec.window_ms)
        else:
            first = _sequential(events, k, spec.window_ms, strict)
        level = 0
        for j in range(k):
            times = first[j]
            if times is None:
                break
            level = j + 1
            counts[j] += 1
            if j:
                waits[j].append(times[j] - times[j - 1])
        if 0 < level < k:
            reached = first[level - 1]
            dropped[level - 1].append((unit[0], unit[1], reached[-1] if reached else 0))
    results = []
    for j in range(k):
        results.append(StepResult(
            label=step_text(spec.steps[j]),
            count=counts[j],
            from_previous=(counts[j] / counts[j - 1] if j and counts[j - 1] else None),
            from_first=(counts[j] / counts[0] if j and counts[0] else None),
            median_ms=float(statistics.median(waits[j])) if waits[j] else None,
            p90_ms=_percentile(waits[j], 0.9) if waits[j] else None,
            dropped=sorted(dropped[j], key=lambda d: (d[0], d[1])),
        ))
    return FunnelResult(results, len(units))
