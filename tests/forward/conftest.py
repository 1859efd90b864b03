"""Receivers the forwarding tests send to, all on loopback: a real LRS (ralph, filesystem
backend) started as a subprocess, and a small recording HTTP receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from collector.bench.server import free_port
from tests.conftest import unavailable

LRS_USER, LRS_PASSWORD = "collector", "lrs-secret-1"


class RalphLRS:
    """ralph's LRS (``uvicorn ralph.api:app``) on 127.0.0.1 storing statements in a temp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "lrs.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI"

    @property
    def auth(self) -> str:
        return f"{LRS_USER}:{LRS_PASSWORD}"

    def start(self) -> RalphLRS:
        try:
            import bcrypt
            import uvicorn  # noqa: F401
        except ImportError:
            unavailable("ralph-malph[lrs] is not installed (pip install -e '.[test]')")
        data = self.root / "statements"
        data.mkdir(parents=True, exist_ok=True)
        auth_file = self.root / "auth.json"
        auth_file.write_text(json.dumps([{
            "agent": {"mbox": "mailto:collector@example.org"},
            "scopes": ["all"], "username": LRS_USER,
            "hash": bcrypt.hashpw(LRS_PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
        }]))
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update({
            "RALPH_APP_DIR": str(self.root), "RALPH_AUTH_FILE": str(auth_file),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(data),
            "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(data),
        })
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("run_ralph_lrs.py")),
                 str(self.port)],
                env=env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("ralph LRS exited:\n" + self.log.read_text())
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.port}/__lbheartbeat__", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("ralph LRS did not start:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)

    def statements(self) -> list[dict[str, Any]]:
        """Every statement the LRS stored, in storage order."""
        path = self.root / "statements" / "fs_lrs.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def ralph_lrs(tmp_path: Path) -> Iterator[RalphLRS]:
    lrs = RalphLRS(tmp_path / "lrs").start()
    yield lrs
    lrs.stop()


class Receiver:
    """A loopback HTTP endpoint recording each POST; ``answer`` picks the status per request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.answer: Callable[[dict[str, Any]], int] = lambda request: 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {"path": self.path, "headers": dict(self.headers),
                           "body": json.loads(body)}
                if receiver.delay:
                    time.sleep(receiver.delay)  # simulated receiver latency
                status = receiver.answer(request)
                request["status"] = status
                with receiver.lock:
                    receiver.requests.append(request)
                reply = b'{"ok": true}' if status < 300 else b'{"error": "test says no"}'
                if status == 204:
                    reply = b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["status"] < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()
