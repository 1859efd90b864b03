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
from dataclasses import dataclass, field

from sqlalchemy import Connection

from collector.analytics import timeline
from collector.analytics.keys import KeyInfo
from collector.analytics.scope import Scope, timelines
from collector.gc_policy import gc_paused

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
    # (site, unit, time of its last step) of units that stopped here, in no order
    dropped: list[tuple[int, str, int]] = field(default_factory=list)


@dataclass(slots=True)
class FunnelResult:
    steps: list[StepResult]
    units: int  # units with at least one event matching a step


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


class _Hits:
    """A unit's events that match a step, as parallel lists (cheap to build in C)."""

    __slots__ = ("ets", "pos", "rows", "steps")

    def __init__(self, ets: list[int], pos: list[int], row: int, steps: list[tuple[int, ...]]
                 ) -> None:
        self.ets = ets
        self.pos = pos  # rank of the event in its timeline (client-time order)
        self.rows = [row] * len(ets)  # which timeline: strict steps must share one
        self.steps = steps  # the steps each event matches, highest first

    def extend(self, other: _Hits) -> None:
        self.ets += other.ets
        self.pos += other.pos
        self.rows += other.rows
        self.steps += other.steps

    def sort(self) -> None:
        order = sorted(range(len(self.ets)),
                       key=lambda i: (self.ets[i], self.rows[i], self.pos[i]))
        self.ets = [self.ets[i] for i in order]
        self.pos = [self.pos[i] for i in order]
        self.rows = [self.rows[i] for i in order]
        self.steps = [self.steps[i] for i in order]


def _hits(words: array[int], in_order: int, steps_of: dict[int, tuple[int, ...]],
          scope: Scope, row: int) -> _Hits | None:
    """The tokens of one timeline that match a step, in client-time order."""
    ids = timeline.key_ids(words)
    found = timeline.positions(ids, steps_of)
    if not found:
        return None
    ets = timeline.ets_of(words, found)
    if in_order:
        pos = found
    else:
        rank = {i: r for r, i in enumerate(timeline.time_order(words, False))}
        pos = [rank[i] for i in found]
    if scope.has_time():
        keep = [n for n, t in enumerate(ets) if scope.in_time(t)]
        if not keep:
            return None
        found = [found[n] for n in keep]
        ets = [ets[n] for n in keep]
        pos = [pos[n] for n in keep]
    hits = _Hits(ets, pos, row, list(map(steps_of.__getitem__, map(ids.__getitem__, found))))
    if not in_order:
        hits.sort()
    return hits


def _sequential(hits: _Hits, k: int, window: int, strict: bool
                ) -> list[tuple[int, ...] | None]:
    """Per level, the step times of the first chain that reached it (None: not reached).

    One pass; for each level the chain with the latest start is kept, which is the one
    most likely to finish inside the window.
    """
    state: list[tuple[tuple[int, ...], int, int] | None] = [None] * k
    first: list[tuple[int, ...] | None] = [None] * k
    for ets, pos, row, steps in zip(hits.ets, hits.pos, hits.rows, hits.steps, strict=True):
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


def _any_order(hits: _Hits, k: int, window: int) -> list[tuple[int, ...] | None]:
    """Unordered: the window start reaching the most distinct steps (earliest on ties).

    From each start the events of the window are taken in time order, each one reaching
    the lowest step it matches that is not reached yet. Only few events can reach
    anything: an event reaching step s comes after fewer than k other events matching s
    (each of those reached some other step), so it is among the first k events of s
    after the start, or the very first when no event matches two steps. Each start looks
    at those candidates only (pointers that move forward with the start), so a unit with
    n events costs O(n * k * k) instead of a walk over its whole window per start.
    """
    ets_list, steps_list = hits.ets, hits.steps
    n = len(ets_list)
    occurrences: list[list[int]] = [[] for _ in range(k)]
    for m, steps in enumerate(steps_list):
        for s in steps:
            occurrences[s].append(m)
    per_step = k if any(len(steps) > 1 for steps in steps_list) else 1
    suffix = [0] * (n + 1)  # distinct steps from i on: no later start can beat it
    seen: set[int] = set()
    for i in range(n - 1, -1, -1):
        seen.update(steps_list[i])
        suffix[i] = len(seen)
    ahead = [0] * k  # per step, its first occurrence at or after the start
    best: list[int] = []
    for i in range(n):
        if suffix[i] <= len(best):
            break
        start = ets_list[i]
        candidates: set[int] = set()
        for s in range(k):
            occ = occurrences[s]
            at = ahead[s]
            while at < len(occ) and occ[at] < i:
                at += 1
            ahead[s] = at
            for m in occ[at:at + per_step]:
                if ets_list[m] - start > window:
                    break
                candidates.add(m)
        done: set[int] = set()
        times: list[int] = []
        for m in sorted(candidates):
            for s in reversed(steps_list[m]):  # lowest step first
                if s not in done:
                    done.add(s)
                    times.append(ets_list[m])
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
    with gc_paused():
        return _run_funnel(conn, keys, spec)


def _run_funnel(conn: Connection, keys: dict[int, KeyInfo], spec: FunnelSpec) -> FunnelResult:
    steps_of = _step_index(keys, spec)
    k = len(spec.steps)
    units: dict[tuple[int, str], _Hits] = {}
    merged: set[tuple[int, str]] = set()  # built from several timelines: sort before use
    by_session = spec.unit == "session"
    row = 0
    if steps_of:
        for site_id, session_id, actor_id, in_order, raw in timelines(
                conn, spec.scope, with_sessions_only=by_session):
            row += 1
            found = _hits(timeline.decode(raw), in_order, steps_of, spec.scope, row)
            if found is None:
                continue
            unit = (site_id, session_id if by_session else actor_id)
            have = units.get(unit)
            if have is None:
                units[unit] = found
            else:
                have.extend(found)
                merged.add(unit)
    counts = [0] * k
    waits: list[list[int]] = [[] for _ in range(k)]
    dropped: list[list[tuple[int, str, int]]] = [[] for _ in range(k)]
    strict = spec.mode == "strict"
    for unit, hits in units.items():
        if unit in merged:
            hits.sort()
        if spec.mode == "unordered":
            first = _any_order(hits, k, spec.window_ms)
        else:
            first = _sequential(hits, k, spec.window_ms, strict)
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
            dropped=dropped[j],
        ))
    return FunnelResult(results, len(units))
