"""Request and response hardening that applies to every surface.

- URL paths, query strings and form fields must not contain U+0000: PostgreSQL text cannot hold
  it, so a NUL in a filter would otherwise surface as a database error (a 500 or a
  misleading 503) instead of a clear 400 naming the parameter.
- Every response says ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
  same-origin`` (write keys travel in ``?key=`` and must not leak through Referer);
  pages other than the demo lessons refuse to be framed (clickjacking on the dashboard).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, request

UNFRAMED_PREFIXES = ("/demo",)
_RAW_BODY_BLUEPRINTS: set[str] = set()


def reads_raw_body(bp: Blueprint) -> Blueprint:
    """Declare that every route of ``bp`` reads its request body itself (ingest doors).

    Hardening then never parses such a body as a form: that would consume it (a beacon
    may come with a form content type) and judge event data as form fields.
    """
    _RAW_BODY_BLUEPRINTS.add(bp.name)
    return bp


def refuse_nul_parameters() -> None:
    if "\x00" in request.path:
        abort(400, description="URL path: must not contain U+0000")
    sources = [("query parameter", request.args)]
    if request.method == "POST" and _RAW_BODY_BLUEPRINTS.isdisjoint(request.blueprints):
        sources.append(("form field", request.form))
    for source, values in sources:
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                abort(400, description=f"{source} {name[:40]!r}: must not contain U+0000")


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(UNFRAMED_PREFIXES):
        headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_parameters)
    app.after_request(security_headers)
