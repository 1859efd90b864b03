"""Users scoped to sites: every dashboard page, data URL, CSV, catalog and export request
of a viewer or editor names one of their sites.

Dashboard queries read "no ``site`` parameter" as "every site", so for a user who is not
an administrator a GET without ``site`` is redirected to the same URL with their first
site (the URL stays shareable and says what it shows), and a ``site`` they may not read
is answered like a site that does not exist. Pages also list only readable sites
(:func:`collector.web.dashboard.params.site_names`), and ``/v1/live`` filters its frames
itself (:mod:`collector.web.dashboard.live`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from collector.storage.engine import get_engine
from collector.storage.models import Site
from collector.web.auth import current_user, readable_sites

# Blueprints whose GET routes read the ``site`` parameter.
SCOPED_BLUEPRINTS = frozenset({"dashboard", "courses", "catalog", "export"})
# Routes of those blueprints that show no site's data.
UNSCOPED_ENDPOINTS = frozenset({"dashboard.index", "dashboard.plotly_js",
                                "dashboard.saved_funnel", "dashboard.live_socket"})


def readable_site_names() -> dict[str, int]:
    """Name -> id of the sites the logged-in user may read (all for an administrator)."""
    allowed = readable_sites()
    with get_engine().connect() as conn:
        rows = conn.execute(select(Site.name, Site.id).order_by(Site.name)).all()
    return {name: site_id for name, site_id in rows if allowed is None or site_id in allowed}


def scope_request_to_own_sites() -> Response | None:
    """Before a request: send a scoped user's GET to one of their sites (see module doc)."""
    if (request.blueprint not in SCOPED_BLUEPRINTS or request.endpoint in UNSCOPED_ENDPOINTS
            or request.path == "/v1/live" or request.method != "GET"
            or current_user() is None or readable_sites() is None):
        return None
    names = readable_site_names()
    site = (request.args.get("site") or "").strip()
    if site:
        if site not in names:
            return _refuse(400, f"site: no site named {site[:100]!r}")
        return None
    if not names:
        return _refuse(403, "this user may read no site; ask an administrator")
    query = MultiDict(request.args)
    query["site"] = next(iter(names))
    return redirect(request.path + "?" + urlencode(list(query.items(multi=True))))


def _refuse(status: int, message: str) -> Response:
    if request.path.startswith(("/dashboard/data/", "/v1/", "/export/")) or \
            request.accept_mimetypes.best == "application/json":
        response = jsonify({"error": message})
        response.status_code = status
        return response
    abort(status, description=message)


def init_app(app: Flask) -> None:
    app.before_request(scope_request_to_own_sites)
