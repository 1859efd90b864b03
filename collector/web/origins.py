"""The origin the collector itself is reached at, for its own pages (the demo, dashboards)."""

from __future__ import annotations

from flask import request


def own_origin() -> str:
    """``scheme://host[:port]`` of the current request."""
    return f"{request.scheme}://{request.host}"
