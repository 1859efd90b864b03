"""``GET /tracker.js``: the browser tracker, minified, cacheable and gzipped when accepted.

``static/src/tracker.js`` is the hand-written source; ``static/tracker.js`` is built from
it with rjsmin (``python -m collector.tracker_asset``) and committed, and a test checks
that the two still match. The body is prepared once per app: the file is small and never
changes while the server runs.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, request

from collector.resources import resource_dir

SOURCE_NAME = "src/tracker.js"
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


def minify(source: str) -> str:
    """The built tracker for ``source`` (rjsmin keeps the ``/*!`` licence line)."""
    import rjsmin  # build-time only: the test extra has it, serving does not need it

    return str(rjsmin.jsmin(source, keep_bang_comments=True)) + "\n"


def load_asset(static: Path | None = None) -> TrackerAsset:
    """Read the built tracker (or the source when no build exists) and gzip it once."""
    static = static or resource_dir("static")
    path = static / BUILT_NAME
    if not path.is_file():
        path = static / SOURCE_NAME
    body = path.read_bytes()
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


def build(static: Path | None = None) -> Path:
    """Write ``static/tracker.js`` from ``static/src/tracker.js``; return its path."""
    static = static or resource_dir("static")
    out = static / BUILT_NAME
    out.write_text(minify((static / SOURCE_NAME).read_text(encoding="utf-8")), encoding="utf-8")
    return out


if __name__ == "__main__":
    built = build()
    size = len(gzip.compress(built.read_bytes(), compresslevel=9, mtime=0))
    sys.stdout.write(f"wrote {built} ({built.stat().st_size} bytes, {size} gzipped)\n")
