"""Catalog surfaces: ``GET /v1/catalog`` (JSON) and the page ``/dashboard/catalog``."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, render_template

from collector.storage.engine import get_engine
from collector.tracking.catalog import build_catalog
from collector.web.auth import login_required

bp = Blueprint("catalog", __name__)


@bp.route("/v1/catalog")
@login_required
def catalog_json() -> Response:
    return jsonify(build_catalog(get_engine()))


@bp.route("/dashboard/catalog")
@login_required
def catalog_page() -> str:
    return render_template("catalog.html", catalog=build_catalog(get_engine()))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
