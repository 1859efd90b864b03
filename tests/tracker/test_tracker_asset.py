"""``GET /tracker.js``: size budget as served, build freshness, caching and gzip."""

from __future__ import annotations

import gzip

from flask import Flask

from collector.resources import resource_dir
from collector.web.tracker_asset import BUILT_NAME

BUDGET_GZIPPED = 6144  # tracker.js <= 6 KB gzipped, as served


def test_served_tracker_fits_the_gzip_budget(app: Flask) -> None:
    resp = app.test_client().get("/tracker.js", headers={"Accept-Encoding": "gzip, br"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    size = len(resp.data)
    assert size <= BUDGET_GZIPPED, f"tracker.js is {size} bytes gzipped, budget {BUDGET_GZIPPED}"
    assert gzip.decompress(resp.data) == (resource_dir("static") / BUILT_NAME).read_bytes()


def test_plain_body_without_gzip_and_cache_headers(app: Flask) -> None:
    resp = app.test_client().get("/tracker.js", headers={"Accept-Encoding": "identity"})
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers
    assert resp.content_type.startswith("text/javascript")
    assert resp.data.startswith(b"/*! tracker.js")
    assert "max-age" in resp.headers["Cache-Control"]
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_etag_revalidation_per_encoding(app: Flask) -> None:
    client = app.test_client()
    plain = client.get("/tracker.js")
    zipped = client.get("/tracker.js", headers={"Accept-Encoding": "gzip"})
    assert plain.headers["ETag"] != zipped.headers["ETag"]
    again = client.get("/tracker.js", headers={"Accept-Encoding": "gzip",
                                               "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # A plain body's tag does not validate the gzipped variant.
    other = client.get("/tracker.js", headers={"Accept-Encoding": "gzip",
                                               "If-None-Match": plain.headers["ETag"]})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"
