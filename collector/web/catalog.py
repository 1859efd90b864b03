"""Catalog surfaces: ``GET /v1/catalog`` (JSON) and the page ``/dashboard/catalog``;
``?site=NAME`` shows one site's names only."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request
from sqlalchemy import select

from collector.storage.engine import get_engine
from collector.storage.models import Site
from collector.tracking.catalog import build_catalog
from collector.web.auth import login_required, readable_sites

bp = Blueprint("catalog", __name__)


def _site_ids() -> list[int] | None:
    """The ``site`` query parameter as site ids (None: every site), within the sites the
    user may read."""
    allowed = readable_sites()
    name = (request.args.get("site") or "").strip()
    if not name:
        return None if allowed is None else sorted(allowed)
    with get_engine().connect() as conn:
        site_id = conn.scalar(select(Site.id).where(Site.name == name))
    if site_id is None or (allowed is not None and site_id not in allowed):
        abort(400, description=f"site: no site named {name[:100]!r}")
    return [site_id]


@bp.route("/v1/catalog")
@login_required
def catalog_json() -> Response:
    return jsonify(build_catalog(get_engine(), _site_ids()))


@bp.route("/dashboard/catalog")
@login_required
def catalog_page() -> str:
    return render_template("catalog.html", catalog=build_catalog(get_engine(), _site_ids()))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
