"""What each dashboard page shows, as JSON the page script draws: figures (plotly),
tables (rows of text or links) and single values. Page HTML and these payloads come
from the same functions, so a live refresh shows exactly what a reload would."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import current_app, request, url_for
from sqlalchemy import Connection, select
from werkzeug.datastructures import MultiDict

from collector.analytics.event_warnings import warning_groups
from collector.analytics.flow import FlowSpec, session_flow
from collector.analytics.funnel import FunnelResult, run_funnel
from collector.analytics.keys import KeyCatalog, KeyInfo
from collector.analytics.overview import overview
from collector.analytics.pathrules import load_cleaners
from collector.analytics.rejected import rejected_view
from collector.analytics.sessions import SessionFilter, list_sessions, session_events
from collector.storage.models import PathRule, SavedFunnel, now_ms
from collector.web.auth import readable_sites
from collector.web.dashboard import figures
from collector.web.dashboard.params import (
    MAX_EPOCH_MS,
    flow_spec_from,
    funnel_spec_from,
    int_param,
    saved_funnel_site,
    scope_from,
)
from collector.web.dashboard.timefmt import utc_text

Cell = str | dict[str, Any]  # a table cell: text, or {"text", "href"|"pre"|"class"}
DROPPED_SHOWN = 20  # per step on the page; the CSV has them all


def key_catalog(conn: Connection) -> dict[int, KeyInfo]:
    """All event shapes, from this app's incremental cache."""
    catalog: KeyCatalog = current_app.extensions["collector.key_catalog"]
    return catalog.load(conn)


def utc(ms: int | None) -> str:
    """Epoch ms as ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if ms is None:
        return ""
    return utc_text(ms)


def duration(ms: float | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def link(text: str, href: str) -> dict[str, Any]:
    return {"text": text, "href": href}


def overview_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    scope = scope_from(MultiDict({"site": request.args.get("site", "")}), sites)
    view = overview(conn, key_catalog(conn), load_cleaners(conn), scope.site_id)
    t = view.totals
    return {
        "stats": {"stat-events": str(t["events"]), "stat-sessions": str(t["sessions"]),
                  "stat-active": str(view.active_sessions),
                  "stat-starts": str(t["course_starts"]), "stat-ends": str(t["course_ends"]),
                  "stat-rejected": str(t["rejected"])},
        "figures": {"chart-minutes": figures.events_per_minute(view.minutes)},
        "tables": {
            "top-pages": [[label, str(n)] for label, n in view.top_pages],
            "tail": [[utc(e["ets"]), e["site"] or "", e["name"], e["actor"] or "",
                      link(e["sid"], url_for("dashboard.session", sid=e["sid"]))
                      if e["sid"] else "",
                      e["page"] or e["uri"] or e["object"] or "",
                      "duplicate start" if e["duplicate_of"] else ""] for e in view.tail],
        },
    }


def flow_result(conn: Connection, sites: dict[str, int], *, keep_sessions: bool = False
          ) -> tuple[FlowSpec, Any]:
    spec = flow_spec_from(request.args, sites)
    cleaners = load_cleaners(conn, [spec.scope.site_id] if spec.scope.site_id else None)
    return spec, session_flow(conn, key_catalog(conn), cleaners, spec,
                              keep_sessions=keep_sessions)


def flow_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    spec, result = flow_result(conn, sites)
    return {"figures": {"chart-flow": figures.flow_sankey(result)},
            "stats": {"flow-sessions": str(result.sessions)},
            "tables": {"flow-steps": [
                [str(step + 1), ", ".join(f"{label} ({n})" for label, n in column)]
                for step, column in enumerate(result.steps) if column]}}


def rules_context(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    names = {v: k for k, v in sites.items()}
    rows = conn.execute(select(PathRule.id, PathRule.site_id, PathRule.pattern,
                               PathRule.label, PathRule.created_by).order_by(PathRule.id))
    return {"rules": [{"id": r[0], "site": names[r[1]], "pattern": r[2],
                       "label": r[3], "by": r[4]} for r in rows if r[1] in names]}


def funnel_result(conn: Connection, sites: dict[str, int]) -> tuple[Any, FunnelResult]:
    spec = funnel_spec_from(request.args, sites)
    return spec, run_funnel(conn, key_catalog(conn), spec)


def funnel_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    if not request.args.getlist("step"):
        return {}
    spec, result = funnel_result(conn, sites)
    rows: list[list[Cell]] = []
    for i, step in enumerate(result.steps):
        drop: Cell = ""
        if i < len(result.steps) - 1 and step.dropped:
            query = MultiDict(request.args)
            query["level"] = str(i + 1)
            drop = link(f"{len(step.dropped)} dropped (CSV)",
                        url_for("dashboard.funnel_dropoff") + "?" + urlencode(
                            list(query.items(multi=True))))
        rows.append([str(i + 1), step.label, str(step.count), percent(step.from_previous),
                     percent(step.from_first), duration(step.median_ms),
                     duration(step.p90_ms), drop])
    names = {v: k for k, v in sites.items()}
    dropped: list[list[Cell]] = []
    for i, step in enumerate(result.steps[:-1]):
        for site, unit, ets in sorted(step.dropped)[:DROPPED_SHOWN]:
            target = (url_for("dashboard.session", sid=unit, site=names.get(site, ""))
                      if spec.unit == "session" else
                      url_for("dashboard.sessions", actor=unit, site=names.get(site, "")))
            dropped.append([str(i + 1), names.get(site, ""), link(unit, target), utc(ets)])
    return {"figures": {"chart-funnel": figures.funnel_chart(result,
                                                             spec.mode == "unordered")},
            "tables": {"funnel-steps": rows, "funnel-dropped": dropped},
            "stats": {"funnel-units": str(result.units)}}


def saved_context(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    """Saved funnels the user may read: those of their sites (all for an admin)."""
    rows = conn.execute(select(SavedFunnel.id, SavedFunnel.name, SavedFunnel.query,
                               SavedFunnel.created_by).order_by(SavedFunnel.name))
    every_site = readable_sites() is None
    return {"saved": [{"id": r[0], "name": r[1], "url": url_for("dashboard.funnel") + "?"
                       + r[2], "by": r[3]} for r in rows
                      if every_site or saved_funnel_site(r[2]) in sites]}


FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")  # and their full-width forms


def csv_cell(value: object) -> str:
    """Keep spreadsheet apps from running event-controlled text as a formula.

    Spreadsheets skip leading blanks and line breaks before reading ``=``, so the test
    is on the first character that is not whitespace or a control character.
    """
    text = str(value)
    first = next((ch for ch in text if not (ch.isspace() or ch < " ")), "")
    if first in FORMULA_STARTS or (text[:1] in ("\t", "\r", "\n")):
        return "'" + text
    return text


def sessions_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    before = int_param(request.args, "before", -1, low=0, high=MAX_EPOCH_MS)
    flt = SessionFilter(scope=scope_from(request.args, sites),
                        actor=(request.args.get("actor") or "").strip() or None,
                        duplicates_only=request.args.get("dups") in ("1", "on"),
                        before=None if before < 0 else before)
    rows = list_sessions(conn, flt)
    table: list[list[Cell]] = [
        [link(r.session_id, url_for("dashboard.session", sid=r.session_id, site=r.site)),
         r.site, r.actor_id, r.course_id or "", r.env or "", utc(r.first_ets), utc(r.last_ets),
         str(r.events), str(r.dup_starts) if r.dup_starts else ""] for r in rows]
    out: dict[str, Any] = {"tables": {"sessions": table}}
    if rows:
        query = MultiDict(request.args)
        query["before"] = str(rows[-1].last_received)
        out["stats"] = {"sessions-more": url_for("dashboard.sessions") + "?" + urlencode(
            list(query.items(multi=True)))}
    return out


def session_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    sid = request.view_args["sid"] if request.view_args else ""
    site = request.args.get("site") or ""
    if site and site not in sites:
        raise ValueError(f"site: no site named {site[:100]!r}")
    events = session_events(conn, sid, sites[site] if site else None)
    rows: list[list[Cell]] = []
    for ev in events:
        flag = f"duplicate course start (canonical: {ev.duplicate_of})" if ev.duplicate_of \
            else ""
        rows.append([utc(ev.ets), ev.name, ev.sid or "", ev.actor_id,
                     {"text": flag, "class": "dup"} if flag else "",
                     {"text": ev.payload, "pre": True}])
    return {"tables": {"timeline": rows}, "stats": {"timeline-count": str(len(events))}}


def rejected_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    scope = scope_from(MultiDict({"site": request.args.get("site", "")}), sites)
    days = int_param(request.args, "days", 7, low=1, high=3650)
    view = rejected_view(conn, scope.site_id, now_ms() - days * 86_400_000,
                         reason=(request.args.get("reason") or "").strip() or None)
    base = MultiDict(request.args)
    reasons: list[list[Cell]] = []
    for reason, n in view.reasons:
        base["reason"] = reason
        reasons.append([link(reason, url_for("dashboard.rejected") + "?" + urlencode(
            list(base.items(multi=True)))), str(n)])
    return {"figures": {"chart-rejected": figures.rejected_per_hour(view.per_hour)},
            "tables": {"reasons": reasons, "raw": [
                [utc(r["received_at"]), r["site"] or "", r["transport"],
                 "" if r["index"] is None else str(r["index"]), r["mid"] or "",
                 "\n".join(r["reasons"]), {"text": r["payload"], "pre": True}]
                for r in view.latest]}}


def warnings_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    """Stored events with warnings, per site and kind of warning, each with an example."""
    scope = scope_from(MultiDict({"site": request.args.get("site", "")}), sites)
    days = int_param(request.args, "days", 7, low=1, high=3650)
    groups = warning_groups(conn, scope.site_id, now_ms() - days * 86_400_000,
                            (request.args.get("warning") or "").strip() or None)
    base = MultiDict(request.args)
    rows: list[list[Cell]] = []
    for group in groups:
        base["warning"], base["site"] = group.warning, group.site
        rows.append([group.site, link(group.warning, url_for("dashboard.warnings") + "?"
                                      + urlencode(list(base.items(multi=True)))),
                     str(group.events), group.example_mid,
                     {"text": group.example or "", "pre": True}])
    return {"tables": {"warnings": rows},
            "stats": {"warned-events": str(sum(g.events for g in groups))}}
