"""``GET /tracker.js``: the browser tracker, minified, cacheable and gzipped when accepted.

The sources are the ES modules in ``tracker/src``; ``static/tracker.js`` is their esbuild
bundle (``npm ci --prefix tracker && npm run build --prefix tracker``), committed, and a
test fails when it is stale. The body is prepared once per app: the file is small and
never changes while the server runs.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request

from collector.resources import resource_dir

BUILT_NAME = "tracker.js"
# Embedders reference /tracker.js without a version: keep browser caches short and let
# them revalidate with the ETag (a 304 costs a round trip, not the body).
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"

bp = Blueprint("tracker_asset", __name__)


@dataclass(frozen=True, slots=True)
class TrackerAsset:
    """The served tracker: plain and gzipped bodies with their validator."""

    body: bytes
    gzipped: bytes
    etag: str  # of the plain body; the gzipped one is tagged ``<etag>-gz``


def load_asset(static: Path | None = None) -> TrackerAsset:
    """Read the built tracker and gzip it once."""
    static = static or resource_dir("static")
    body = (static / BUILT_NAME).read_bytes()
    # mtime=0 keeps the gzipped bytes (and so the size test) deterministic.
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    return TrackerAsset(body, gzipped, hashlib.sha256(body).hexdigest()[:32])


@bp.route("/tracker.js")
def tracker_js() -> Response:
    asset: TrackerAsset = current_app.extensions["collector.tracker_asset"]
    gzip_ok = request.accept_encodings["gzip"] > 0
    etag = asset.etag + "-gz" if gzip_ok else asset.etag
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": f'"{etag}"',
        "Vary": "Accept-Encoding",
        # Lesson pages on any origin load it, also with crossorigin/SRI.
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers=headers)
    body = asset.body
    if gzip_ok:
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, content_type="text/javascript; charset=utf-8")


def init_app(app: Flask) -> None:
    app.extensions["collector.tracker_asset"] = load_asset()
    app.register_blueprint(bp)
