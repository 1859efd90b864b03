"""Learning records going out: the xAPI/Caliper downloads and the LRS/Caliper forwarding."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register ``/export/xapi`` and ``/export/caliper``; queue events for forwarding."""
    from collector import export_web, forwarding

    export_web.init_app(app)
    forwarding.init_app(app)
