"""Browser fixtures: Debian chromium through Playwright, a real collector, lesson pages.

The collector is a real ``collector serve`` (gunicorn) on loopback with its own SQLite
file. Lesson pages are served by a small HTTP server on another loopback port, so the
tracker works cross-origin as it does on a real course site. Each test gets a fresh
browser context (empty storage, so a new device id) and reads back only its own events.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from collector.bench.server import ServerProcess
from collector.storage.engine import make_engine
from collector.storage.sites import create_site

STUB = "<script>window.ck=window.ck||function(){(ck.q=ck.q||[]).push(arguments)};</script>"


class Collector:
    """A running ``collector serve`` plus read access to its database."""

    def __init__(self, database_url: str, instance: Path,
                 env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.instance = instance
        self.env = env
        self.server = ServerProcess(database_url, instance=instance, env=env)
        self.engine: Engine | None = None
        self.lesson_key = ""

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def default_key(self) -> str:
        assert self.server.write_key, "collector serve printed no write key"
        return self.server.write_key

    def start(self) -> Collector:
        self._start()
        if self.engine is None:
            self.engine = make_engine(self.database_url)
        return self

    def _start(self) -> None:
        self.server.start()  # ServerProcess keeps draining the server's log itself

    def kill(self) -> None:
        """SIGKILL the whole server (gunicorn master and workers)."""
        self.server.kill()

    def restart(self) -> None:
        """A new server process on the same database and port (after ``kill``)."""
        self.server = ServerProcess(self.database_url, port=self.server.port,
                                    instance=self.instance, env=self.env)
        self._start()

    def add_site(self, name: str, origin: str) -> str:
        assert self.engine is not None
        from sqlalchemy.orm import Session

        with Session(self.engine) as s:
            site = create_site(s, name, [origin])
            s.commit()
            return site.write_key

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def events(self, did: str) -> list[dict[str, Any]]:
        """Stored events of one browser (device id), oldest first, payload decoded."""
        rows = self.query("SELECT * FROM events WHERE did = :did ORDER BY ets, id", did=did)
        for row in rows:
            row["event"] = json.loads(row["payload"])
        return rows

    def stop(self) -> None:
        self.kill()
        if self.engine is not None:
            self.engine.dispose()


class LessonSite:
    """Lesson pages on their own loopback origin; tests register the HTML they need."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = site.pages.get(self.path.split("?")[0].split("#")[0])
                data = (body or "not found").encode()
                self.send_response(200 if body is not None else 404)
                kind = "text/javascript" if self.path.endswith(".js") else "text/html"
                self.send_header("Content-Type", kind + "; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.origin + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def tracker_page(collector_url: str, key: str, *, body: str = "", head: str = "",
                 attrs: str = "", stub: bool = True, script: bool = True,
                 src: str | None = None) -> str:
    """A lesson page embedding the tracker the documented way."""
    src = src or collector_url + "/tracker.js"
    tag = (f'<script async src="{src}" data-key="{key}" '
           f'data-channel="test-channel" data-pdata-id="test.lessons" data-env="lesson" '
           f"{attrs}></script>") if script else ""
    return (f"<!doctype html><html><head><meta charset=utf-8><title>lesson</title>"
            f"{STUB if stub else ''}{tag}{head}</head><body>{body}</body></html>")


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Collector]:
    """One collector for the tests that do not restart it (they filter by device id)."""
    root = tmp_path_factory.mktemp("collector")
    server = Collector(f"sqlite:///{root}/collector.sqlite3", root / "instance").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lessons(collector: Collector) -> Iterator[LessonSite]:
    site = LessonSite()
    collector.lesson_key = collector.add_site("lessons", site.origin)
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    ctx = chromium.new_context()
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def tracker_state(page: Any) -> dict[str, Any]:
    """``ck('state')`` once the tracker has loaded."""
    page.wait_for_function("window.ck && window.ck.version")
    return dict(page.evaluate("ck('state')"))


def until(page: Any, condition: str, timeout: float = 20.0) -> None:
    """Wait for a JS ``condition`` on a page whose tracker has loaded (``s`` = its state)."""
    page.wait_for_function(
        f"(() => {{ if (!window.ck || !ck.version) return false; const s = ck('state');"
        f" return {condition}; }})()", timeout=timeout * 1000)


def wait_delivered(page: Any, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until the page has nothing queued or in flight."""
    page.wait_for_function("window.ck && ck.version && ck('state').queued === 0",
                           timeout=timeout * 1000)
    return tracker_state(page)
