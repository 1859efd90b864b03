"""Dashboard pages (login required). Each page has a JSON twin under ``/dashboard/data/``
that the page's script fetches again whenever ``/v1/live`` reports new events."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import plotly
from flask import (
    Blueprint,
    abort,
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

from collector.analytics.flow import MAX_DEPTH, node_sessions
from collector.analytics.funnel import MAX_STEPS
from collector.analytics.pathrules import MAX_RULES, check_label, compile_pattern
from collector.storage.engine import get_engine, write_transaction
from collector.storage.models import PathRule, SavedFunnel, now_ms
from collector.web.auth import (
    check_csrf,
    current_user,
    login_required,
    may_edit,
    readable_sites,
)
from collector.web.dashboard.live import live_probe, live_socket, refuse_foreign_socket
from collector.web.dashboard.page_data import (
    csv_cell,
    flow_data,
    flow_result,
    funnel_data,
    funnel_result,
    int_param,
    link,
    overview_data,
    rejected_data,
    rules_context,
    saved_context,
    session_data,
    sessions_data,
    utc,
    warnings_data,
)
from collector.web.dashboard.params import (
    form_values,
    funnel_spec_from,
    saved_funnel_site,
    site_names,
)
from collector.web.sockets import sock

bp = Blueprint("dashboard", __name__)


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


@bp.route("/dashboard/data/overview")
@login_required
def overview_json() -> Response:
    return _data(overview_data)


@bp.route("/")
def index() -> Response:
    return redirect(url_for("dashboard.home"))


@bp.route("/dashboard")
@login_required
def home() -> tuple[str, int]:
    """``/dashboard``: the overview."""
    return _page("dashboard.html", overview_data, data_url=url_for("dashboard.overview_json"))


# --- flow ----------------------------------------------------------------------------


@bp.route("/dashboard/flow")
@login_required
def flow() -> tuple[str, int]:
    return _page("flow.html", flow_data, extra=rules_context,
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
        _spec, result = flow_result(conn, sites, keep_sessions=True)
        step = int_param(request.args, "node_step", 0, low=0, high=MAX_DEPTH - 1)
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
    with write_transaction(get_engine()) as conn:
        sites = site_names(conn)
        site = request.form.get("site", "")
        if site in sites:
            _require_edit(sites[site])
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
    with write_transaction(get_engine()) as conn:
        site_id = conn.scalar(select(PathRule.site_id).where(PathRule.id == rule_id))
        if site_id is not None:
            _require_edit(site_id)
            conn.execute(delete(PathRule).where(PathRule.id == rule_id))
    return redirect(_back("dashboard.flow"))


def _require_edit(site_id: int | None) -> None:
    """403 unless the user may change the site's rules and funnels (None: every site,
    which only an administrator may)."""
    allowed = readable_sites() is None if site_id is None else may_edit(site_id)
    if not allowed:
        abort(403, description="your role on this site only lets you read it")


def _back(endpoint: str) -> str:
    target = request.form.get("next", "")
    base = url_for(endpoint)
    return target if target == base or target.startswith(base + "?") else base


# --- funnel --------------------------------------------------------------------------


@bp.route("/dashboard/funnel")
@login_required
def funnel() -> tuple[str, int]:
    return _page("funnel.html", funnel_data, extra=saved_context,
                 data_url=url_for("dashboard.funnel_json") + "?"
                 + request.query_string.decode())


@bp.route("/dashboard/data/funnel")
@login_required
def funnel_json() -> Response:
    return _data(funnel_data)


@bp.route("/dashboard/funnel/dropoff.csv")
@login_required
def funnel_dropoff() -> Response:
    """Units that reached step ``level`` and not the next one."""
    with get_engine().connect() as conn:
        try:
            spec, result = funnel_result(conn, site_names(conn))
            level = int_param(request.args, "level", 0, low=1, high=MAX_STEPS)
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
    with write_transaction(get_engine()) as conn:
        sites = site_names(conn)
        site = (query.get("site") or "").strip()
        _require_edit(sites.get(site, -1) if site else None)
        try:
            if not name:
                raise ValueError("name: required")
            funnel_spec_from(query, sites)
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
    with write_transaction(get_engine()) as conn:
        query = conn.scalar(select(SavedFunnel.query).where(SavedFunnel.id == funnel_id))
        if query is not None:
            site = saved_funnel_site(query)
            _require_edit(site_names(conn).get(site, -1) if site else None)
            conn.execute(delete(SavedFunnel).where(SavedFunnel.id == funnel_id))
    return redirect(url_for("dashboard.funnel"))


# --- sessions ------------------------------------------------------------------------


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


# --- warnings (stored events a client could improve) -----------------------------------


@bp.route("/dashboard/warnings")
@login_required
def warnings() -> tuple[str, int]:
    return _page("warnings.html", warnings_data,
                 data_url=url_for("dashboard.warnings_json") + "?"
                 + request.query_string.decode())


@bp.route("/dashboard/data/warnings")
@login_required
def warnings_json() -> Response:
    return _data(warnings_data)


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
bp.route("/v1/live")(live_probe)  # the same path without an upgrade: why a handshake failed
