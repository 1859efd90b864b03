"""Pages: the landing redirect and the dashboard overview (the demo course: demo.py)."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, url_for
from werkzeug.wrappers import Response

from collector.auth import login_required

bp = Blueprint("web", __name__)


@bp.route("/")
def index() -> Response:
    return redirect(url_for("web.dashboard_home"))


@bp.route("/dashboard")
@login_required
def dashboard_home() -> tuple[str, int]:
    from collector.dashboard.views import overview_page

    return overview_page()


def init_app(app: Flask) -> None:
    from collector import demo

    app.register_blueprint(bp)
    app.register_blueprint(demo.bp)
