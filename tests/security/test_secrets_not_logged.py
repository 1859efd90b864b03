"""Secrets never reach the logs: write keys (they travel in URLs), passwords, LRS auth,
and the parameters of failed SQL statements."""

from __future__ import annotations

import base64
import json
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from websockets.sync.client import connect

from collector.bench.server import ServerProcess, free_port
from collector.storage.engine import make_engine
from tests.conftest import wait_for
from tests.factories import lesson_event

LRS_SECRET = "lrs-secret-pw-5d1e"
WRONG_PASSWORD = "hunter2-wrong-pw-77a"
WRONG_KEY = "ck_wrongkeysecret0123456789abcdef"


def test_failed_statements_do_not_carry_their_parameters(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn, pytest.raises(DBAPIError) as info:
            conn.execute(text("SELECT * FROM no_such_table WHERE write_key = :key"),
                         {"key": "ck_secret_in_a_parameter"})
    finally:
        engine.dispose()
    assert "ck_secret_in_a_parameter" not in str(info.value)


def _request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        with err:
            return int(err.code)


def test_server_output_holds_no_secrets(tmp_path: Path) -> None:
    server = ServerProcess(
        f"sqlite:///{tmp_path}/c.sqlite3", instance=tmp_path / "instance",
        env={"COLLECTOR_LRS_URL": f"http://127.0.0.1:{free_port()}/xAPI",
             "COLLECTOR_LRS_AUTH": f"lrsuser:{LRS_SECRET}"}).start(timeout=60)
    try:
        key, password = server.write_key, server.admin_password
        assert key and password
        started = len(server.output)
        body = json.dumps({"events": [lesson_event("IMPRESSION")]}).encode()
        assert _request(f"{server.url}/v1/beacon?key={key}", body) == 204
        assert _request(f"{server.url}/v1/beacon?key={WRONG_KEY}", body) == 401
        assert _request(f"{server.url}/v1/telemetry", body,
                        {"Authorization": f"Bearer {WRONG_KEY}"}) == 401
        ws_url = server.url.replace("http", "ws", 1)
        with connect(f"{ws_url}/v1/ws?key={key}", open_timeout=10) as ws:
            ws.send(json.dumps({"id": "b", "events": [lesson_event("IMPRESSION")]}))
            assert json.loads(ws.recv(timeout=30))["accepted"] == 1
        for attempt in (WRONG_PASSWORD, password):
            form = f"username=admin&password={attempt}&csrf_token=forged".encode()
            _request(f"{server.url}/login", form)
        # The forwarder fails to reach the (absent) LRS and says so in the log.
        wait_for(lambda: any("forward xapi" in line for line in server.output), 30,
                 "the forwarder's failure to be logged")
    finally:
        server.kill(signal.SIGTERM)
    log = "".join(server.output[started:])
    basic = base64.b64encode(f"lrsuser:{LRS_SECRET}".encode()).decode()
    for secret in (key, password, WRONG_KEY, WRONG_PASSWORD, LRS_SECRET, basic):
        assert secret not in log, f"a secret reached the server output: {secret[:6]}..."
    assert "/v1/ws?key" not in log and "/v1/beacon?key" not in log  # no access log
