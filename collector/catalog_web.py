"""Catalog surfaces: ``GET /v1/catalog`` (JSON) and the page ``/dashboard/catalog``."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, render_template

from collector.auth import login_required
from collector.catalog import build_catalog
from collector.db import get_engine

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
