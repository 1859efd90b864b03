"""``GET /openapi.json``: the OpenAPI 3.1 document of the HTTP API, and its error shapes.

The document is written here by hand, next to nothing else, so that it reads as the
contract it is. ``tests/reliability/test_openapi.py`` keeps it
true: every route of ``app.url_map`` is either described here or listed there as not
part of the HTTP API (pages, WebSockets, static files), and schemathesis checks that
the app answers every generated request with a documented status and body shape.

Errors of the JSON endpoints (export, catalog, this document) are ``{"error": "..."}``;
the ingest doors answer in the Sunbird telemetry API shape. :func:`api_error` makes the
errors Flask raises itself (404, 405, 401 from ``login_required``) follow the same
shapes on API paths, instead of an HTML page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from collector import __version__
from collector.web.ingest_http import _RESPONSE_CODES, sunbird_body

bp = Blueprint("openapi", __name__)

INGEST_PATHS = ("/v1/telemetry", "/data/v3/telemetry", "/v1/beacon")
# JSON endpoints whose Flask-raised errors are answered as {"error": ...}.
JSON_PREFIXES = ("/v1/", "/export/", "/openapi.json", "/health", "/dashboard/data/")

_STR = {"type": "string"}
_INT = {"type": "integer"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ingest_errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Unusable body: not JSON, not an object, no `events` list, over 10,000 events, "
             "bad gzip (`params.errmsg` says which)",
        401: "Missing or unknown write key",
        403: "Origin not in the site's allow-list",
        413: "Body (after gzip inflation) over COLLECTOR_MAX_BODY_BYTES",
        415: "Content-Encoding other than gzip or identity",
        429: "Over COLLECTOR_RATE_LIMIT events/s for this write key and client address",
        503: "Database unavailable: nothing was stored; retry later",
    }
    responses = {str(c): _json(_ref("TelemetryError"), text[c]) for c in codes}
    for code in (429, 503):  # the batch was not stored: resend it after Retry-After
        if code in codes:
            responses[str(code)]["headers"] = {"Retry-After": {
                "description": "Seconds to wait before resending the same batch",
                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    return responses


_INGEST_BODY = {
    "required": True,
    "description": "`{\"events\": [...]}` or the Sunbird request (`id`, `ver`, "
                   "`params.msgid`, `events`); `Content-Encoding: gzip` accepted.",
    "content": {"application/json": {"schema": _ref("TelemetryRequest")}},
}
_KEY_AUTH: list[dict[str, list[str]]] = [{"writeKey": []}, {"writeKeyQuery": []}]
_COOKIE_AUTH: list[dict[str, list[str]]] = [{"session": []}]
_TIME_PARAMS = [
    {"name": "since", "in": "query", "schema": _STR,
     "description": "ISO 8601 start, inclusive, by event time (e.g. 2026-11-23)"},
    {"name": "until", "in": "query", "schema": _STR,
     "description": "ISO 8601 end, exclusive, by event time"},
]


def _preflight() -> dict[str, Any]:
    return {
        "summary": "CORS preflight",
        "parameters": [{"name": "Origin", "in": "header", "schema": _STR}],
        "responses": {"204": {"description": "Origin is listed by a site: CORS allowed"},
                      "403": {"description": "Origin missing or listed by no site"}},
    }


def _telemetry(operation_id: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "summary": "Ingest a batch of Telemetry V3 events",
            "security": _KEY_AUTH,
            "requestBody": _INGEST_BODY,
            "responses": {
                "200": _json(_ref("TelemetryResponse"),
                             "Stored (valid and rejected alike); rejected events listed "
                             "with their reasons"),
                **_ingest_errors(400, 401, 403, 413, 415, 429, 503),
            },
        },
        "options": {**_preflight(), "operationId": operation_id + "Preflight"},
    }


def _export(kind: str) -> dict[str, Any]:
    return {"get": {
        "operationId": f"export{kind.capitalize()}",
        "summary": f"Download the stored events as {kind} (streamed attachment)",
        "security": _COOKIE_AUTH,
        "parameters": [
            {"name": "format", "in": "query", "schema": {"type": "string",
                                                          "enum": ["json", "ndjson"]}},
            *_TIME_PARAMS,
            {"name": "course", "in": "query", "schema": _STR,
             "description": "Only events of this course id"},
            {"name": "site", "in": "query", "schema": _STR,
             "description": "Only events of this site (name)"},
        ],
        "responses": {
            "200": {"description": f"`collector-{kind}-<date>.json|.ndjson`",
                    "content": {"application/json": {"schema": {"type": "array"}},
                                "application/x-ndjson": {"schema": _STR}}},
            "302": {"description": "Not logged in (browser): redirect to /login"},
            "400": _json(_ref("Error"), "A parameter cannot be used (the message names it)"),
            "401": _json(_ref("Error"), "Not logged in (JSON client)"),
        },
    }}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (a fresh dict: callers may change it)."""
    sunbird_params = {
        "type": "object", "required": ["resmsgid", "msgid", "status"],
        "properties": {"resmsgid": _STR, "msgid": {}, "status": _STR,
                       "err": _STR, "errmsg": _STR},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "learning-telemetry collector",
            "version": __version__,
            "description": (
                "Telemetry V3 ingest over HTTP (Sunbird-compatible), exports and the event "
                "catalog. The WebSocket door `GET /v1/ws?key=KEY` (frames `{\"id\", "
                "\"events\"}`, acks after commit; a frame that cannot be stored is "
                "answered `{\"id\", \"error\", \"code\", \"retry\"}` plus "
                "`retry_after_ms` when known, with the codes of `params.err`: "
                "INVALID_REQUEST, BODY_TOO_LARGE, RATE_LIMITED, STORAGE_UNAVAILABLE) is "
                "described in docs/API.md; OpenAPI cannot describe WebSocket frames."),
        },
        "paths": {
            "/v1/telemetry": _telemetry("ingestTelemetry"),
            "/data/v3/telemetry": _telemetry("ingestSunbird"),
            "/v1/beacon": {
                "post": {
                    "operationId": "ingestBeacon",
                    "summary": "Ingest a batch sent by navigator.sendBeacon (any content type)",
                    "security": [{"writeKeyQuery": []}, {"writeKey": []}],
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": _ref("TelemetryRequest")},
                        "text/plain": {"schema": _STR}}},
                    "responses": {"204": {"description": "Stored"},
                                  **_ingest_errors(400, 401, 403, 413, 415, 429, 503)},
                },
                "options": {**_preflight(), "operationId": "ingestBeaconPreflight"},
            },
            "/health": {"get": {
                "operationId": "health",
                "summary": "Liveness and database reachability",
                "responses": {"200": _json(_ref("Health"), "Serving, database reachable"),
                              "503": _json(_ref("Health"), "Database unavailable")},
            }},
            "/tracker.js": {"get": {
                "operationId": "trackerScript",
                "summary": "The browser tracker (cacheable; gzip when accepted)",
                "responses": {"200": {"description": "JavaScript", "content": {
                    "text/javascript": {"schema": _STR}}},
                    "304": {"description": "Not modified (If-None-Match)"}},
            }},
            "/export/xapi": _export("xapi"),
            "/export/caliper": _export("caliper"),
            "/v1/catalog": {"get": {
                "operationId": "catalog",
                "summary": "Every V3 eid, registered custom event and name seen",
                "security": _COOKIE_AUTH,
                "responses": {"200": _json(_ref("Catalog"), "The catalog"),
                              "401": _json(_ref("Error"), "Not logged in")},
            }},
            "/login": {"post": {
                "operationId": "login",
                "summary": "Log in to the dashboard (HTML form; sets the session cookie)",
                "requestBody": {"required": True, "content": {
                    "application/x-www-form-urlencoded": {"schema": {
                        "type": "object", "required": ["username", "password", "csrf_token"],
                        "properties": {"username": _STR, "password": _STR,
                                       "csrf_token": _STR}}}}},
                "responses": {
                    "302": {"description": "Logged in: redirect to the dashboard"},
                    "400": {"description": "Missing or invalid CSRF token",
                            "content": {"text/html": {"schema": _STR}}},
                    "401": {"description": "Wrong user name or password",
                            "content": {"text/html": {"schema": _STR}}},
                    "429": {"description": "Too many failed logins for this name and "
                                           "address: locked for a few minutes",
                            "content": {"text/html": {"schema": _STR}}},
                },
            }},
            "/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }},
        },
        "components": {
            "securitySchemes": {
                "writeKey": {"type": "http", "scheme": "bearer",
                             "description": "A site's public write key (ingest only)"},
                "writeKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "Dashboard login (POST /login)"},
            },
            "schemas": {
                "TelemetryRequest": {
                    "type": "object", "required": ["events"],
                    "properties": {
                        "id": {"description": "Batch id (echoed on the WebSocket)"},
                        "ver": _STR,
                        "params": {"type": "object", "properties": {"msgid": {}}},
                        "events": {"type": "array", "maxItems": 10_000,
                                   "items": {"type": "object", "description":
                                             "A Telemetry V3 event (schemas/*.json)"}},
                    },
                },
                "TelemetryResponse": {
                    "type": "object",
                    "required": ["id", "ver", "ets", "params", "responseCode", "result"],
                    "properties": {
                        "id": {"const": "api.telemetry"}, "ver": _STR, "ets": _INT,
                        "params": sunbird_params, "responseCode": {"const": "SUCCESS"},
                        "result": {
                            "type": "object", "required": ["accepted", "duplicates", "rejected"],
                            "properties": {
                                "accepted": _INT, "duplicates": _INT,
                                "rejected": {"type": "array", "items": _ref("Rejection")}},
                        },
                    },
                },
                "Rejection": {
                    "type": "object", "required": ["index", "mid", "errors"],
                    "properties": {"index": _INT, "mid": {"type": ["string", "null"]},
                                   "errors": {"type": "array", "minItems": 1,
                                              "items": _STR}},
                },
                "TelemetryError": {
                    "type": "object",
                    "required": ["id", "ver", "ets", "params", "responseCode", "result"],
                    "properties": {
                        "id": {"const": "api.telemetry"}, "ver": _STR, "ets": _INT,
                        "params": {**sunbird_params,
                                   "required": ["resmsgid", "msgid", "status", "err",
                                                "errmsg"]},
                        "responseCode": {"enum": ["CLIENT_ERROR", "UNAUTHORIZED",
                                                  "FORBIDDEN", "TOO_MANY_REQUESTS",
                                                  "SERVER_ERROR"]},
                        "result": {"type": "object"},
                    },
                },
                "Health": {
                    "type": "object", "required": ["status", "database"],
                    "properties": {"status": {"enum": ["ok", "degraded"]},
                                   "database": {"enum": ["ok", "unavailable"]}},
                },
                "Catalog": {
                    "type": "object", "required": ["events"],
                    "properties": {"events": {"type": "array", "items": {
                        "type": "object", "required": ["name", "kind", "count"],
                        "properties": {"name": _STR, "kind": {"enum": ["v3", "custom"]},
                                       "count": _INT}}}},
                },
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": _STR}},
            },
        },
    }


@bp.route("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


def api_error(exc: HTTPException) -> Any:
    """Flask-raised errors on API paths in the documented shapes; pages keep HTML."""
    path = request.path
    status = exc.code or 500
    if path in INGEST_PATHS:

        body = sunbird_body(msgid=None, status="failed",
                            response_code=_RESPONSE_CODES.get(status, "CLIENT_ERROR"),
                            err=(exc.name or "error").upper().replace(" ", "_"),
                            errmsg=exc.description or exc.name)
        response = jsonify(body)
    elif path.startswith(JSON_PREFIXES):
        response = jsonify({"error": exc.description or exc.name})
    else:
        return exc
    response.status_code = status
    for name, value in exc.get_headers():  # e.g. 405 keeps its Allow header
        if name != "Content-Type":
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, api_error)
