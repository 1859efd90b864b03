"""Dashboard pages (login required). Each page has a JSON twin under ``/dashboard/data/``
that the page's script fetches again whenever ``/v1/live`` reports new events."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import plotly
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from sqlalchemy import Connection, delete, insert, select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from collector.auth import check_csrf, current_user, login_required
from collector.dashboard import figures
from collector.dashboard.keys import KeyCatalog, KeyInfo
from collector.dashboard.live import live_socket, refuse_foreign_socket
from collector.dashboard.params import (
    flow_spec_from,
    form_values,
    funnel_spec_from,
    int_param,
    scope_from,
    site_names,
)
from collector.dashboard.pathrules import (
    MAX_RULES,
    check_label,
    compile_pattern,
    load_cleaners,
)
from collector.dashboard.queries.flow import FlowSpec, node_sessions, session_flow
from collector.dashboard.queries.funnel import FunnelResult, run_funnel
from collector.dashboard.queries.overview import overview
from collector.dashboard.queries.rejected import rejected_view
from collector.dashboard.queries.sessions import SessionFilter, list_sessions, session_events
from collector.db import get_engine
from collector.models import PathRule, SavedFunnel, now_ms
from collector.transports.ws import sock

bp = Blueprint("dashboard", __name__)
DROPPED_SHOWN = 20  # per step on the page; the CSV has them all
Cell = str | dict[str, Any]


class BadParams(ValueError):
    pass


def _keys(conn: Connection) -> dict[int, KeyInfo]:
    catalog: KeyCatalog = current_app.extensions["collector.key_catalog"]
    return catalog.load(conn)


def utc(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


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


def _page(template: str, builder: Callable[[Connection, dict[str, int]], dict[str, Any]],
          **context: Any) -> tuple[str, int]:
    """Render ``template`` with the data ``builder`` makes (or the error it raises)."""
    with get_engine().connect() as conn:
        sites = site_names(conn)
        try:
            data, status, error = builder(conn, sites), 200, None
        except ValueError as exc:
            data, status, error = {}, 400, str(exc)
        extra = context.pop("extra", None)
        if extra is not None:
            context.update(extra(conn, sites))
    return render_template(template, data=data, error=error, sites=list(sites),
                           form=form_values(request.args), query=request.query_string.decode(),
                           **context), status


def _data(builder: Callable[[Connection, dict[str, int]], dict[str, Any]]) -> Response:
    with get_engine().connect() as conn:
        try:
            return jsonify(builder(conn, site_names(conn)))
        except ValueError as exc:
            response = jsonify({"error": str(exc)})
            response.status_code = 400
            return response


# --- overview ------------------------------------------------------------------------


def overview_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    scope = scope_from(MultiDict({"site": request.args.get("site", "")}), sites)
    view = overview(conn, _keys(conn), load_cleaners(conn), scope.site_id)
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


@bp.route("/dashboard/data/overview")
@login_required
def overview_json() -> Response:
    return _data(overview_data)


def overview_page() -> tuple[str, int]:
    """``/dashboard``: served by ``web.dashboard_home`` (an endpoint other pages link to)."""
    return _page("dashboard.html", overview_data, data_url=url_for("dashboard.overview_json"))


# --- flow ----------------------------------------------------------------------------


def _flow(conn: Connection, sites: dict[str, int], *, keep_sessions: bool = False
          ) -> tuple[FlowSpec, Any]:
    spec = flow_spec_from(request.args, sites)
    cleaners = load_cleaners(conn, [spec.scope.site_id] if spec.scope.site_id else None)
    return spec, session_flow(conn, _keys(conn), cleaners, spec, keep_sessions=keep_sessions)


def flow_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    spec, result = _flow(conn, sites)
    return {"figures": {"chart-flow": figures.flow_sankey(result)},
            "stats": {"flow-sessions": str(result.sessions)},
            "tables": {"flow-steps": [
                [str(step + 1), ", ".join(f"{label} ({n})" for label, n in column)]
                for step, column in enumerate(result.steps) if column]}}


def _rules(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    names = {v: k for k, v in sites.items()}
    rows = conn.execute(select(PathRule.id, PathRule.site_id, PathRule.pattern,
                               PathRule.label, PathRule.created_by).order_by(PathRule.id))
    return {"rules": [{"id": r[0], "site": names.get(r[1], ""), "pattern": r[2],
                       "label": r[3], "by": r[4]} for r in rows]}


@bp.route("/dashboard/flow")
@login_required
def flow() -> tuple[str, int]:
    return _page("flow.html", flow_data, extra=_rules,
                 data_url=url_for("dashboard.flow_json") + "?" + request.query_string.decode())


@bp.route("/dashboard/data/flow")
@login_required
def flow_json() -> Response:
    return _data(flow_data)


@bp.route("/dashboard/data/flow/node")
@login_required
def flow_node_json() -> Response:
    """Sessions passing through one node (``node_step``, ``node_label``) of the flow."""

    def build(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
        _spec, result = _flow(conn, sites, keep_sessions=True)
        step = int_param(request.args, "node_step", 0)
        label = request.args.get("node_label") or ""
        names = {v: k for k, v in sites.items()}
        units = node_sessions(result, step, label)
        return {"tables": {"node-sessions": [
            [names.get(site, ""), link(sid, url_for("dashboard.session", sid=sid))]
            for site, sid in units]}, "stats": {"node-title": f"step {step + 1}: {label}"}}

    return _data(build)


@bp.route("/dashboard/flow/rules", methods=["POST"])
@login_required
def add_rule() -> Response:
    check_csrf()
    back = _back("dashboard.flow")
    with get_engine().begin() as conn:
        sites = site_names(conn)
        site = request.form.get("site", "")
        try:
            if site not in sites:
                raise ValueError("site: choose the site the rule applies to")
            pattern = request.form.get("pattern", "")
            compile_pattern(pattern)
            label = check_label(request.form.get("label", ""))
            count = len(conn.execute(select(PathRule.id).where(
                PathRule.site_id == sites[site])).all())
            if count >= MAX_RULES:
                raise ValueError(f"site {site!r} already has {MAX_RULES} rules")
        except ValueError as exc:
            flash(f"Rule not saved: {exc}")
            return redirect(back)
        conn.execute(insert(PathRule).values(
            site_id=sites[site], pattern=pattern, label=label,
            created_by=current_user() or "", created_at=now_ms()))
    flash("Rule saved.")
    return redirect(back)


@bp.route("/dashboard/flow/rules/<int:rule_id>/delete", methods=["POST"])
@login_required
def delete_rule(rule_id: int) -> Response:
    check_csrf()
    with get_engine().begin() as conn:
        conn.execute(delete(PathRule).where(PathRule.id == rule_id))
    return redirect(_back("dashboard.flow"))


def _back(endpoint: str) -> str:
    target = request.form.get("next", "")
    base = url_for(endpoint)
    return target if target == base or target.startswith(base + "?") else base


# --- funnel --------------------------------------------------------------------------


def _funnel(conn: Connection, sites: dict[str, int]) -> tuple[Any, FunnelResult]:
    spec = funnel_spec_from(request.args, sites)
    return spec, run_funnel(conn, _keys(conn), spec)


def funnel_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    if not request.args.getlist("step"):
        return {}
    spec, result = _funnel(conn, sites)
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


def _saved(conn: Connection, _sites: dict[str, int]) -> dict[str, Any]:
    rows = conn.execute(select(SavedFunnel.id, SavedFunnel.name, SavedFunnel.query,
                               SavedFunnel.created_by).order_by(SavedFunnel.name))
    return {"saved": [{"id": r[0], "name": r[1], "url": url_for("dashboard.funnel") + "?"
                       + r[2], "by": r[3]} for r in rows]}


@bp.route("/dashboard/funnel")
@login_required
def funnel() -> tuple[str, int]:
    return _page("funnel.html", funnel_data, extra=_saved,
                 data_url=url_for("dashboard.funnel_json") + "?"
                 + request.query_string.decode())


@bp.route("/dashboard/data/funnel")
@login_required
def funnel_json() -> Response:
    return _data(funnel_data)


def csv_cell(value: object) -> str:
    """Keep spreadsheet apps from running event-controlled text as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.route("/dashboard/funnel/dropoff.csv")
@login_required
def funnel_dropoff() -> Response:
    """Units that reached step ``level`` and not the next one."""
    with get_engine().connect() as conn:
        try:
            spec, result = _funnel(conn, site_names(conn))
            level = int(request.args.get("level") or "0")
            if not 1 <= level < len(result.steps):
                raise ValueError(f"level: between 1 and {len(result.steps) - 1}")
        except ValueError as exc:
            abort(400, description=str(exc))
        names = {v: k for k, v in site_names(conn).items()}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["site", spec.unit, "reached_step", "reached_at_utc"])
    for site, unit, ets in sorted(result.steps[level - 1].dropped):
        writer.writerow([csv_cell(names.get(site, "")), csv_cell(unit), level, utc(ets)])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="funnel-dropoff-step{level}.csv"'})


@bp.route("/dashboard/funnel/save", methods=["POST"])
@login_required
def save_funnel() -> Response:
    check_csrf()
    name = request.form.get("name", "").strip()[:100]
    query = MultiDict(parse_qsl(request.form.get("query", ""), keep_blank_values=False))
    with get_engine().begin() as conn:
        try:
            if not name:
                raise ValueError("name: required")
            funnel_spec_from(query, site_names(conn))
        except ValueError as exc:
            flash(f"Funnel not saved: {exc}")
            return redirect(url_for("dashboard.funnel") + "?" + urlencode(
                list(query.items(multi=True))))
        encoded = urlencode(list(query.items(multi=True)))
        conn.execute(insert(SavedFunnel).values(
            name=name, query=encoded, created_by=current_user() or "", created_at=now_ms()))
    flash(f"Funnel {name!r} saved.")
    return redirect(url_for("dashboard.funnel") + "?" + encoded)


@bp.route("/dashboard/funnel/saved/<int:funnel_id>")
@login_required
def saved_funnel(funnel_id: int) -> Response:
    with get_engine().connect() as conn:
        query = conn.execute(select(SavedFunnel.query).where(
            SavedFunnel.id == funnel_id)).scalar()
    if query is None:
        abort(404, description="no saved funnel with this id")
    return redirect(url_for("dashboard.funnel") + "?" + query)


@bp.route("/dashboard/funnel/saved/<int:funnel_id>/delete", methods=["POST"])
@login_required
def delete_funnel(funnel_id: int) -> Response:
    check_csrf()
    with get_engine().begin() as conn:
        conn.execute(delete(SavedFunnel).where(SavedFunnel.id == funnel_id))
    return redirect(url_for("dashboard.funnel"))


# --- sessions ------------------------------------------------------------------------


def sessions_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    before = request.args.get("before") or None
    flt = SessionFilter(scope=scope_from(request.args, sites),
                        actor=(request.args.get("actor") or "").strip() or None,
                        duplicates_only=request.args.get("dups") in ("1", "on"),
                        before=int(before) if before and before.isdigit() else None)
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


@bp.route("/dashboard/sessions")
@login_required
def sessions() -> tuple[str, int]:
    return _page("sessions.html", sessions_data,
                 data_url=url_for("dashboard.sessions_json") + "?"
                 + request.query_string.decode())


@bp.route("/dashboard/data/sessions")
@login_required
def sessions_json() -> Response:
    return _data(sessions_data)


def session_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    sid = request.view_args["sid"] if request.view_args else ""
    site = request.args.get("site") or ""
    events = session_events(conn, sid, sites.get(site) if site else None)
    rows: list[list[Cell]] = []
    for ev in events:
        flag = f"duplicate course start (canonical: {ev.duplicate_of})" if ev.duplicate_of \
            else ""
        rows.append([utc(ev.ets), ev.name, ev.sid or "", ev.actor_id,
                     {"text": flag, "class": "dup"} if flag else "",
                     {"text": ev.payload, "pre": True}])
    return {"tables": {"timeline": rows}, "stats": {"timeline-count": str(len(events))}}


@bp.route("/dashboard/sessions/<path:sid>")
@login_required
def session(sid: str) -> tuple[str, int]:
    return _page("session.html", session_data, sid=sid,
                 data_url=url_for("dashboard.session_json", sid=sid) + "?"
                 + request.query_string.decode())


@bp.route("/dashboard/data/sessions/<path:sid>")
@login_required
def session_json(sid: str) -> Response:
    return _data(session_data)


# --- rejected ------------------------------------------------------------------------


def rejected_data(conn: Connection, sites: dict[str, int]) -> dict[str, Any]:
    scope = scope_from(MultiDict({"site": request.args.get("site", "")}), sites)
    days = int_param(request.args, "days", 7)
    if not 1 <= days <= 3650:
        raise ValueError("days: between 1 and 3650")
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


@bp.route("/dashboard/rejected")
@login_required
def rejected() -> tuple[str, int]:
    return _page("rejected.html", rejected_data,
                 data_url=url_for("dashboard.rejected_json") + "?"
                 + request.query_string.decode())


@bp.route("/dashboard/data/rejected")
@login_required
def rejected_json() -> Response:
    return _data(rejected_data)


# --- plotly.js -----------------------------------------------------------------------


@bp.route("/dashboard/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly package: dashboards work offline, no CDN."""
    folder = plotly.__path__[0] + "/package_data"
    return send_from_directory(folder, "plotly.min.js", max_age=86400,
                               mimetype="application/javascript")


# --- live ----------------------------------------------------------------------------


@bp.before_request
def _guard_live_socket() -> None:
    if request.path == "/v1/live":
        refuse_foreign_socket()


sock.route("/v1/live", bp=bp)(live_socket)
