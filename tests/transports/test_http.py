"""HTTP doors over a real socket: Sunbird contract, gzip, limits, auth, CORS, beacon."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from typing import Any

import msgspec
import pytest
from flask import Flask
from sqlalchemy import func, select

from collector.storage.engine import get_engine
from collector.storage.models import Event, RejectedEvent
from tests.conftest import ORIGIN, LiveServer
from tests.factories import event


def post(server: LiveServer, path: str, body: bytes, *, key: str | None = "default",
         headers: dict[str, str] | None = None, method: str = "POST",
         ) -> tuple[int, dict[str, str], Any]:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if key == "default":
        key = server.key
    if key is not None:
        hdrs["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(server.url + path, data=body if method == "POST" else None,
                                 headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            status, resp_headers = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        raw = err.read()
        status, resp_headers = err.code, dict(err.headers)
        err.close()
    return status, resp_headers, (json.loads(raw) if raw else None)


def sunbird_body(events: list[Any], msgid: str = "msg-1") -> bytes:
    return msgspec.json.encode({"id": "api.sunbird.telemetry", "ver": "3.0",
                                "params": {"msgid": msgid}, "ets": 1, "events": events})


def count(app: Flask, model: Any) -> int:
    with get_engine(app).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.mark.parametrize("path", ["/v1/telemetry", "/data/v3/telemetry"])
def test_sunbird_request_and_response_shape(live_server: LiveServer, path: str) -> None:
    status, _, body = post(live_server, path, sunbird_body([event(), event("INTERACT")]))
    assert status == 200
    assert body["id"] == "api.telemetry" and body["ver"] == "1.0"
    assert body["params"]["msgid"] == "msg-1" and body["params"]["status"] == "successful"
    assert body["responseCode"] == "SUCCESS" and isinstance(body["ets"], int)
    assert body["result"] == {"accepted": 2, "duplicates": 0, "rejected": []}


def test_plain_events_body_and_rejections_in_result(live_server: LiveServer) -> None:
    bad = event("INTERACT", edata={"id": "x"})
    status, _, body = post(live_server, "/v1/telemetry",
                           msgspec.json.encode({"events": [event(), bad]}))
    assert status == 200
    assert body["result"]["accepted"] == 1
    assert body["result"]["rejected"] == [
        {"index": 1, "mid": bad["mid"], "errors": ["edata.type: required"]}]
    assert count(live_server.app, RejectedEvent) == 1


def test_gzip_body(live_server: LiveServer) -> None:
    status, _, body = post(live_server, "/v1/telemetry", gzip.compress(sunbird_body([event()])),
                           headers={"Content-Encoding": "gzip"})
    assert status == 200 and body["result"]["accepted"] == 1


def test_gzip_bomb_is_refused_413(live_server: LiveServer) -> None:
    bomb = gzip.compress(b'{"events": [' + b" " * (64 * 1024 * 1024) + b"]}")
    assert len(bomb) < 200_000
    status, _, body = post(live_server, "/v1/telemetry", bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413
    assert body["responseCode"] == "CLIENT_ERROR"
    assert "decompressed body exceeds" in body["params"]["errmsg"]


def test_broken_gzip_is_400(live_server: LiveServer) -> None:
    status, _, body = post(live_server, "/v1/telemetry", b"\x1f\x8bnot really",
                           headers={"Content-Encoding": "gzip"})
    assert status == 400 and body["params"]["err"] == "INVALID_GZIP"


def test_ten_megabyte_body_is_refused_413(live_server: LiveServer) -> None:
    body_bytes = b'{"events": [' + b'"' + b"x" * (10 * 1024 * 1024) + b'"]}'
    status, _, body = post(live_server, "/v1/telemetry", body_bytes)
    assert status == 413 and body["params"]["err"] == "BODY_TOO_LARGE"
    assert count(live_server.app, Event) == 0


@pytest.mark.parametrize(("payload", "message"), [
    (b"not json at all", "body is not valid JSON"),
    (b"[1, 2, 3]", 'body must be a JSON object with an "events" list'),
    (b'{"id": "api.sunbird.telemetry"}', '"events": required'),
    (b'{"events": {"eid": "START"}}', '"events": expected a list'),
])
def test_unusable_envelope_is_400_client_error(live_server: LiveServer, payload: bytes,
                                                message: str) -> None:
    status, _, body = post(live_server, "/v1/telemetry", payload)
    assert status == 400
    assert body["responseCode"] == "CLIENT_ERROR" and body["params"]["status"] == "failed"
    assert body["params"]["errmsg"].startswith(message)
    assert count(live_server.app, RejectedEvent) == 1  # kept in quarantine with the reason


def test_deep_nesting_rejects_one_event_keeps_siblings(live_server: LiveServer) -> None:
    good = msgspec.json.encode(event())
    deep = b'{"eid":"LOG","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    body_bytes = b'{"events":[' + good + b"," + deep + b"]}"
    status, _, body = post(live_server, "/v1/telemetry", body_bytes)
    assert status == 200
    assert body["result"]["accepted"] == 1
    assert body["result"]["rejected"][0]["errors"] == ["event: nested too deeply"]


@pytest.mark.parametrize("key", [None, "ck_unknown", "x" * 500])
def test_missing_or_unknown_write_key_is_401(live_server: LiveServer, key: str | None) -> None:
    status, _, body = post(live_server, "/v1/telemetry", sunbird_body([event()]), key=key)
    assert status == 401 and body["params"]["err"] == "INVALID_WRITE_KEY"
    assert count(live_server.app, Event) == 0


def test_key_as_query_parameter(live_server: LiveServer) -> None:
    status, _, _ = post(live_server, f"/v1/telemetry?key={live_server.key}",
                        sunbird_body([event()]), key=None)
    assert status == 200


def test_disallowed_origin_is_403_allowed_and_absent_pass(live_server: LiveServer) -> None:
    status, _, body = post(live_server, "/v1/telemetry", sunbird_body([event()]),
                           headers={"Origin": "https://evil.example"})
    assert status == 403 and body["params"]["err"] == "ORIGIN_NOT_ALLOWED"
    status, headers, _ = post(live_server, "/v1/telemetry", sunbird_body([event()]),
                              headers={"Origin": ORIGIN})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
    # A lesson page of another origin may read Retry-After (to pace a resend).
    assert headers["Access-Control-Expose-Headers"] == "Retry-After"
    status, _, _ = post(live_server, "/v1/telemetry", sunbird_body([event()]))  # no Origin
    assert status == 200
    status, _, _ = post(live_server, "/v1/telemetry", sunbird_body([event()]),
                        headers={"Origin": live_server.url})  # the collector's own pages
    assert status == 200


def test_cors_preflight(live_server: LiveServer) -> None:
    status, headers, _ = post(live_server, "/data/v3/telemetry", b"", key=None, method="OPTIONS",
                              headers={"Origin": ORIGIN,
                                       "Access-Control-Request-Method": "POST",
                                       "Access-Control-Request-Headers": "authorization"})
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization", "x-app-id", "x-device-id", "x-channel-id",
            "x-session-id", "x-request-id"} <= allowed
    status, headers, _ = post(live_server, "/v1/telemetry", b"", key=None, method="OPTIONS",
                              headers={"Origin": "https://evil.example",
                                       "Access-Control-Request-Method": "POST"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_beacon_any_content_type_204(live_server: LiveServer) -> None:
    status, _, body = post(live_server, f"/v1/beacon?key={live_server.key}",
                           msgspec.json.encode({"events": [event()]}), key=None,
                           headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert status == 204 and body is None
    assert count(live_server.app, Event) == 1
    status, _, _ = post(live_server, "/v1/beacon?key=wrong", b'{"events": []}', key=None)
    assert status == 401


def test_health(live_server: LiveServer) -> None:
    with urllib.request.urlopen(live_server.url + "/health", timeout=10) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"status": "ok", "database": "ok"}


def test_rate_limit_429(make_app: Any, sqlite_url: str) -> None:
    app = make_app(sqlite_url, RATE_LIMIT=10)
    server = LiveServer(app).start()
    try:
        status, _, _ = post(server, "/v1/telemetry", sunbird_body([event() for _ in range(10)]))
        assert status == 200
        # A second full burst needs a whole second of refill, so a slow machine's gap
        # between the two requests cannot let it through (one event could be).
        burst = sunbird_body([event() for _ in range(10)])
        status, headers, body = post(server, "/v1/telemetry", burst)
        assert status == 429 and headers["Retry-After"] == "1"
        assert body["responseCode"] == "TOO_MANY_REQUESTS"
        assert "at most 10 events/s" in body["params"]["errmsg"]
        assert count(app, Event) == 10
    finally:
        server.stop()


def test_unsupported_content_encoding_415(live_server: LiveServer) -> None:
    status, _, body = post(live_server, "/v1/telemetry", b"{}", headers={"Content-Encoding": "br"})
    assert status == 415 and body["params"]["err"] == "UNSUPPORTED_ENCODING"
