"""Pages: the landing redirect, the dashboard overview and the demo lesson."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, url_for
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


@bp.route("/demo")
def demo() -> str:
    return render_template("demo.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
