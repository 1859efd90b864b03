"""HTTP doors: ``POST /v1/telemetry`` (+ Sunbird alias ``/data/v3/telemetry``),
``POST /v1/beacon`` and ``GET /health``. Each is a thin layer over the ingest pipeline."""

from __future__ import annotations

import time
import uuid
import zlib
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from collector.core.events.envelope import EnvelopeError
from collector.ingest import protocol
from collector.ingest.pipeline import IngestResult, get_pipeline
from collector.ingest.ratelimit import RateLimited
from collector.storage.engine import StorageUnavailable, get_engine, ping
from collector.storage.sites import SiteAuth, get_directory
from collector.web.hardening import reads_raw_body
from collector.web.origins import own_origin

bp = reads_raw_body(Blueprint("ingest_http", __name__))

CORS_ALLOW_HEADERS = ("Content-Type, Authorization, x-app-id, x-device-id, x-channel-id, "
                      "x-session-id, x-request-id")


class HttpError(Exception):
    def __init__(self, error: protocol.ErrorCode, message: str, msgid: Any = None,
                 retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.status = error.status
        self.code = error.code
        self.message = message
        self.msgid = msgid
        self.retry_after = protocol.retry_after_header(error, retry_after_ms)


_RESPONSE_CODES = {400: "CLIENT_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN",
                   413: "CLIENT_ERROR", 415: "CLIENT_ERROR", 429: "TOO_MANY_REQUESTS",
                   503: "SERVER_ERROR"}


def sunbird_body(*, msgid: Any, status: str, response_code: str,
                 result: dict[str, Any] | None = None, err: str | None = None,
                 errmsg: str | None = None) -> dict[str, Any]:
    """The Sunbird telemetry API response shape."""
    params: dict[str, Any] = {"resmsgid": str(uuid.uuid4()), "msgid": msgid, "status": status}
    if err is not None:
        params["err"] = err
        params["errmsg"] = errmsg
    return {"id": "api.telemetry", "ver": "1.0", "ets": int(time.time() * 1000),
            "params": params, "responseCode": response_code, "result": result or {}}


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Inflate a gzip body, refusing to produce more than ``limit`` bytes (gzip bombs)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise HttpError(protocol.INVALID_GZIP, f"body is not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise HttpError(protocol.BODY_TOO_LARGE,
                        f"decompressed body exceeds {limit} bytes (COLLECTOR_MAX_BODY_BYTES)")
    if not inflater.eof:
        raise HttpError(protocol.INVALID_GZIP, "gzip body is truncated")
    return out


def read_body() -> bytes:
    limit = current_app.config["MAX_BODY_BYTES"]
    try:
        data = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise HttpError(protocol.BODY_TOO_LARGE,
                        f"body exceeds {limit} bytes (COLLECTOR_MAX_BODY_BYTES)") from None
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding == "gzip":
        return gunzip_limited(data, limit)
    if encoding not in ("", "identity"):
        raise HttpError(protocol.UNSUPPORTED_ENCODING,
                        f"Content-Encoding {encoding[:40]!r} not supported; use gzip or none")
    return data


def write_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.args.get("key")


def authenticate() -> SiteAuth:
    try:
        site = get_directory().authenticate(write_key())
    except StorageUnavailable:
        raise HttpError(protocol.STORAGE_UNAVAILABLE,
                        "database unavailable: nothing was stored, retry later") from None
    if site is None:
        raise HttpError(protocol.INVALID_WRITE_KEY,
                        "missing or unknown write key: send Authorization: Bearer <key> "
                        "or ?key=<key>")
    if not site.allows_origin(request.headers.get("Origin"), own_origin()):
        raise HttpError(protocol.ORIGIN_NOT_ALLOWED,
                        f"origin {request.headers.get('Origin', '')[:200]!r} is not allowed "
                        f"for site {site.name!r}")
    return site


def ingest_request(transport: str) -> IngestResult:
    """Shared by /v1/telemetry and /v1/beacon: auth, body, pipeline, errors as HttpError."""
    site = authenticate()
    body = read_body()
    try:
        return get_pipeline().ingest_body(site, body, transport=transport,
                                          address=request.remote_addr)
    except EnvelopeError as exc:
        raise HttpError(protocol.INVALID_REQUEST, str(exc)) from None
    except RateLimited as exc:
        raise HttpError(protocol.RATE_LIMITED, str(exc), retry_after_ms=exc.retry_after_ms,
                        ) from None
    except StorageUnavailable:
        raise HttpError(protocol.STORAGE_UNAVAILABLE,
                        "database unavailable: nothing was stored, retry later") from None


@bp.route("/v1/telemetry", methods=["POST", "OPTIONS"])
@bp.route("/data/v3/telemetry", methods=["POST", "OPTIONS"])
def telemetry() -> Response:
    if request.method == "OPTIONS":
        return preflight()
    result = ingest_request("http")
    body = sunbird_body(msgid=result.msgid, status="successful", response_code="SUCCESS",
                        result={"accepted": result.accepted, "duplicates": result.duplicates,
                                "rejected": result.rejected})
    return jsonify(body)


@bp.route("/v1/beacon", methods=["POST", "OPTIONS"])
def beacon() -> Response:
    if request.method == "OPTIONS":
        return preflight()
    ingest_request("beacon")
    return Response(status=204)


@bp.route("/health")
def health() -> tuple[Response, int]:
    ok = ping(get_engine())
    return (jsonify({"status": "ok" if ok else "degraded",
                     "database": "ok" if ok else "unavailable"}), 200 if ok else 503)


def _origin_listed(origin: str) -> bool:
    try:
        return get_directory().any_site_allows(origin)
    except StorageUnavailable:
        return False


def preflight() -> Response:
    origin = request.headers.get("Origin")
    if not origin or not _origin_listed(origin):
        return Response(status=403)
    resp = Response(status=204)
    resp.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    resp.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
    resp.headers["Access-Control-Max-Age"] = "86400"
    return resp


@bp.after_request
def cors_headers(resp: Response) -> Response:
    origin = request.headers.get("Origin")
    if origin and request.endpoint != "ingest_http.health" and (
        resp.status_code != 403 or request.method != "OPTIONS"
    ) and _origin_listed(origin):
        resp.headers["Access-Control-Allow-Origin"] = origin
        # Lesson pages read Retry-After to pace their resend after a 429 or 503.
        resp.headers["Access-Control-Expose-Headers"] = "Retry-After"
        resp.headers["Vary"] = "Origin"
    return resp


@bp.errorhandler(HttpError)
def http_error(exc: HttpError) -> tuple[Response, int]:
    body = sunbird_body(msgid=exc.msgid, status="failed",
                        response_code=_RESPONSE_CODES.get(exc.status, "CLIENT_ERROR"),
                        err=exc.code, errmsg=exc.message)
    resp = jsonify(body)
    if exc.retry_after is not None:
        resp.headers["Retry-After"] = exc.retry_after
    return resp, exc.status


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
