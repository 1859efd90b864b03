"""Downloads behind login: ``GET /export/xapi`` and ``GET /export/caliper``, streamed.

Both stream the export as an attachment (``collector-xapi-<date>.json|.ndjson``),
reading the events in keyset pages so memory stays flat whatever the size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy import Engine, select

from collector.core.mapping import public_base
from collector.outbound.export import (
    ExportFilter,
    chunked,
    iter_caliper,
    iter_xapi,
    parse_time,
    stream_json,
)
from collector.storage.engine import get_engine
from collector.storage.models import Site
from collector.tracking import audit
from collector.web.auth import login_required, readable_sites

bp = Blueprint("export", __name__, url_prefix="/export")
MEDIA_TYPES = {"json": "application/json", "ndjson": "application/x-ndjson"}


class BadExportRequest(ValueError):
    """A query parameter of an export cannot be used."""


def site_id_named(engine: Engine, name: str) -> int:
    """The id of the site called ``name``; ValueError when there is none."""
    with engine.connect() as conn:
        site_id = conn.scalar(select(Site.id).where(Site.name == name))
    if site_id is None:
        raise ValueError(f"site: no site named {name!r}")
    return int(site_id)


def export_filter_from_args() -> tuple[ExportFilter, str]:
    """(filter, format) from ``format``, ``since``, ``until``, ``course`` and ``site``."""
    fmt = request.args.get("format", "json")
    if fmt not in MEDIA_TYPES:
        raise BadExportRequest(f"format: {fmt!r} is not one of json, ndjson")
    try:
        since = parse_time(request.args.get("since"), "since")
        until = parse_time(request.args.get("until"), "until")
    except ValueError as exc:
        raise BadExportRequest(str(exc)) from None
    site_id = None
    site = request.args.get("site")
    if site:
        try:
            site_id = site_id_named(get_engine(), site)
        except ValueError as exc:
            raise BadExportRequest(str(exc)) from None
    allowed = readable_sites()
    if allowed is not None and site_id not in allowed:  # a viewer's export: own sites only
        raise BadExportRequest(f"site: no site named {(site or '')[:100]!r}")
    course = request.args.get("course") or None
    return ExportFilter(since, until, course, site_id), fmt


def _download(kind: str, items: Iterator[bytes], fmt: str) -> Response:
    audit.export_downloaded(current_app._get_current_object(),  # type: ignore[attr-defined]
                            user=g.get("user"), kind=kind, fmt=fmt,
                            since=request.args.get("since"), until=request.args.get("until"),
                            course=request.args.get("course"))
    name = f"collector-{kind}-{dt.datetime.now(dt.UTC).date().isoformat()}.{fmt}"
    response = Response(chunked(stream_json(items, fmt)), mimetype=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/xapi")
@login_required
def xapi() -> Response:
    """xAPI 1.0.3 statements of the stored events, as a JSON array or NDJSON."""
    flt, fmt = export_filter_from_args()
    items = iter_xapi(get_engine(), flt, public_base(current_app.config.get("PUBLIC_URL")))
    return _download("xapi", items, fmt)


@bp.route("/caliper")
@login_required
def caliper() -> Response:
    """Caliper 1.2 envelopes of the stored events, as a JSON array or NDJSON."""
    flt, fmt = export_filter_from_args()
    items = iter_caliper(get_engine(), flt, public_base(current_app.config.get("PUBLIC_URL")))
    return _download("caliper", items, fmt)


@bp.errorhandler(BadExportRequest)
def bad_request(exc: BadExportRequest) -> tuple[Response, int]:
    return jsonify({"error": str(exc)}), 400


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
