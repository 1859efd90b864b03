"""Session flow: the paths of pages (optionally interactions) through sessions.

Paths come from the session timelines kept at ingest; page names are cleaned with the
site's saved rules, consecutive repeats collapse (a reload is not a step), and each
step keeps its top N labels with the rest folded into "Other".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby

from sqlalchemy import Connection

from collector.analytics import timeline
from collector.analytics.keys import KeyInfo
from collector.analytics.pathrules import Cleaner
from collector.analytics.scope import Scope, timelines
from collector.gc_policy import gc_paused

OTHER = "Other"
ANCHORS = ("entry", "from", "to")
MIN_DEPTH, MAX_DEPTH = 2, 10
INTERACTION_MARK = "▸ "


@dataclass(frozen=True, slots=True)
class FlowSpec:
    scope: Scope = Scope()
    depth: int = 5
    top: int = 8
    min_link: int = 1
    anchor: str = "entry"  # entry | from (a page) | to (a page)
    page: str | None = None  # the cleaned label for "from"/"to"
    interactions: bool = False

    def __post_init__(self) -> None:
        if not MIN_DEPTH <= self.depth <= MAX_DEPTH:
            raise ValueError(f"depth: between {MIN_DEPTH} and {MAX_DEPTH}")
        if not 1 <= self.top <= 50:
            raise ValueError("top: between 1 and 50")
        if self.min_link < 1:
            raise ValueError("min_link: at least 1")
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor: one of {', '.join(ANCHORS)}")
        if self.anchor != "entry" and not self.page:
            raise ValueError(f"page: required when the flow starts or ends at a page "
                             f"(anchor {self.anchor!r})")


@dataclass(slots=True)
class FlowResult:
    """Per step the kept labels with counts, and the links between consecutive steps."""

    steps: list[list[tuple[str, int]]] = field(default_factory=list)
    links: list[tuple[int, str, str, int]] = field(default_factory=list)  # step, from, to, n
    sessions: int = 0  # sessions with a path in scope
    # (site_id, session_id) and bucketed path of each session, when asked for (node clicks)
    paths: list[tuple[tuple[int, str], tuple[str, ...]]] = field(default_factory=list)


def _labels(keys: dict[int, KeyInfo], spec: FlowSpec,
            cleaners: dict[int, Cleaner]) -> dict[int, str]:
    """Key id -> cleaned label, for the keys a flow shows."""
    course = spec.scope.course
    out: dict[int, str] = {}
    for key in keys.values():
        if spec.scope.site_id is not None and key.site_id != spec.scope.site_id:
            continue
        if course and key.course_id != course:
            continue
        if key.eid == "IMPRESSION":
            label = key.page_label
        elif key.eid == "INTERACT" and spec.interactions:
            label = INTERACTION_MARK + (key.target or key.edata_type or "interaction")
        else:
            continue
        cleaner = cleaners.get(key.site_id)
        out[key.id] = cleaner(label) if cleaner is not None else label
    return out


def _cut(path: list[str], spec: FlowSpec) -> list[str]:
    if spec.anchor == "entry":
        return path[:spec.depth]
    try:
        at = path.index(spec.page or "")
    except ValueError:
        return []
    if spec.anchor == "from":
        return path[at:at + spec.depth]
    return path[max(0, at - spec.depth + 1):at + 1]


def session_paths(conn: Connection, keys: dict[int, KeyInfo], cleaners: dict[int, Cleaner],
                  spec: FlowSpec) -> list[tuple[tuple[int, str], list[str]]]:
    """((site, session), path) for every session with a path in scope (not bucketed).

    A session shared by several learners (one device) has one timeline per learner;
    their paths are joined in the order the timelines are read.
    """
    labels = _labels(keys, spec, cleaners)
    scope = spec.scope
    paths: dict[tuple[int, str], list[str]] = {}
    for site_id, session_id, _actor, in_order, raw in timelines(conn, scope,
                                                                 with_sessions_only=True):
        words = timeline.decode(raw)
        ids = timeline.key_ids(words)
        if in_order and not scope.has_time():
            seq = list(map(labels.__getitem__, filter(labels.__contains__, ids)))
        else:
            found = timeline.positions(ids, labels)
            if not found:
                continue
            picked = sorted((t, n, labels[ids[i]]) for n, (t, i) in
                            enumerate(zip(timeline.ets_of(words, found), found, strict=True))
                            if scope.in_time(t))
            seq = [p[2] for p in picked]
        if seq:
            unit = (site_id, session_id)
            if unit in paths:
                paths[unit] += seq
            else:
                paths[unit] = seq
    # Consecutive repeats collapse: a reload or a cleaned-together page is not a step.
    return [(unit, [label for label, _ in groupby(seq)]) for unit, seq in paths.items()]


def session_flow(conn: Connection, keys: dict[int, KeyInfo], cleaners: dict[int, Cleaner],
                 spec: FlowSpec, *, keep_sessions: bool = False) -> FlowResult:
    """Count the steps and links of the flow described by ``spec``.

    With ``keep_sessions`` the result also remembers which sessions took each path
    (for listing the sessions behind a node).
    """
    sessions_of: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    distinct: Counter[tuple[str, ...]] = Counter()
    with gc_paused():
        paths = session_paths(conn, keys, cleaners, spec)
    for unit, path in paths:
        cut = _cut(path, spec)
        if not cut:
            continue
        if spec.anchor == "to":
            # Right-align so the chosen page is the last column for every path.
            cut = [""] * (spec.depth - len(cut)) + cut
        key = tuple(cut)
        distinct[key] += 1
        if keep_sessions:
            sessions_of.setdefault(key, []).append(unit)
    result = FlowResult(sessions=sum(distinct.values()))
    per_step: list[Counter[str]] = [Counter() for _ in range(spec.depth)]
    for seen, n in distinct.items():
        for step, label in enumerate(seen):
            if label:
                per_step[step][label] += n
    kept: list[set[str]] = []
    for counter in per_step:
        top = counter.most_common(spec.top)
        names = {label for label, _ in top}
        kept.append(names)
        other = sum(n for label, n in counter.items() if label not in names)
        result.steps.append(top + ([(OTHER, other)] if other else []))
    links: Counter[tuple[int, str, str]] = Counter()
    for seen, n in distinct.items():
        bucketed = tuple(label if not label or label in kept[i] else OTHER
                         for i, label in enumerate(seen))
        if keep_sessions:
            result.paths.extend((unit, bucketed) for unit in sessions_of[seen])
        for step in range(len(bucketed) - 1):
            a, b = bucketed[step], bucketed[step + 1]
            if a and b:
                links[(step, a, b)] += n
    result.links = sorted(((s, a, b, n) for (s, a, b), n in links.items()
                           if n >= spec.min_link), key=lambda x: (x[0], -x[3], x[1], x[2]))
    return result


def node_sessions(result: FlowResult, step: int, label: str,
                  limit: int = 200) -> list[tuple[int, str]]:
    """(site_id, session_id) of sessions at ``label`` on ``step`` (needs keep_sessions)."""
    out = []
    for unit, path in result.paths:
        if step < len(path) and path[step] == label:
            out.append(unit)
            if len(out) >= limit:
                break
    return sorted(out)
