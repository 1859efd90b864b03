"""Pages: the landing redirect and the dashboard overview (the demo course: demo.py)."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, url_for
from werkzeug.wrappers import Response

from collector.auth import login_required
from collector.db import get_engine
from collector.stats import collect_stats

bp = Blueprint("web", __name__)


@bp.route("/")
def index() -> Response:
    return redirect(url_for("web.dashboard_home"))


@bp.route("/dashboard")
@login_required
def dashboard_home() -> str:
    return render_template("dashboard.html", stats=collect_stats(get_engine()))


def init_app(app: Flask) -> None:
    from collector import demo

    app.register_blueprint(bp)
    app.register_blueprint(demo.bp)
