"""`collector serve` on a fresh database: migrations, site 'default', user 'admin'."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import msgspec

from collector.bench.server import ServerProcess
from tests.factories import event


def login(base: str, username: str, password: str) -> tuple[int, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/login", timeout=30) as resp:
        token = re.search(r'name="csrf_token" value="([^"]+)"', resp.read().decode())
    assert token is not None
    data = urllib.parse.urlencode({"csrf_token": token.group(1), "username": username,
                                   "password": password}).encode()
    try:
        with opener.open(base + "/login", data=data, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode()


def test_first_run_creates_site_and_admin_then_keeps_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/serve.sqlite3"
    with ServerProcess(url, instance=tmp_path / "instance") as first:
        assert first.write_key and first.write_key.startswith("ck_")
        assert first.admin_password and len(first.admin_password) >= 12
        status, page = login(first.url, "admin", first.admin_password)
        assert status == 200 and "Overview" in page
        assert login(first.url, "admin", "wrong password")[0] == 401
        req = urllib.request.Request(
            first.url + "/v1/telemetry", data=msgspec.json.encode({"events": [event()]}),
            headers={"Authorization": f"Bearer {first.write_key}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        key, password = first.write_key, first.admin_password
    with ServerProcess(url, instance=tmp_path / "instance") as second:
        assert second.write_key is None and second.admin_password is None  # not re-created
        assert login(second.url, "admin", password)[0] == 200
        with urllib.request.urlopen(second.url + "/dashboard", timeout=30) as resp:
            assert resp.url.endswith("/login?next=/dashboard")  # anonymous users log in first
        req = urllib.request.Request(
            second.url + "/v1/telemetry", data=msgspec.json.encode({"events": []}),
            headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200  # the first run's write key still works
