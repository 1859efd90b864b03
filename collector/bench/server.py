"""Start a real ``collector serve`` on loopback for benchmarks and tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def proc_stats() -> Iterator[tuple[int, list[str]]]:
    """(pid, fields of /proc/<pid>/stat after the command name) of every live process.

    The fields start at stat's field 3 (state): [1] is the parent, [2] the process
    group, [11] and [12] user and system CPU in clock ticks.
    """
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may itself hold spaces or parentheses.
        yield int(entry), stat[stat.rindex(")") + 2:].split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``collector serve`` in a child process; parses the write key and admin password."""

    def __init__(self, database_url: str, *, port: int | None = None, workers: int = 1,
                 env: dict[str, str] | None = None, instance: Path | None = None,
                 threads: int | None = None) -> None:
        self.database_url = database_url
        self.threads = threads
        self.port = port or free_port()
        self.workers = workers
        self.extra_env = env or {}
        self.instance = instance
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.write_key: str | None = None
        self.admin_password: str | None = None
        self._drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {**os.environ, "COLLECTOR_DATABASE_URL": self.database_url, **self.extra_env}
        if self.instance is not None:
            env["COLLECTOR_INSTANCE_PATH"] = str(self.instance)
        args = [sys.executable, "-m", "collector.cli.main", "serve", "--port", str(self.port),
                "--workers", str(self.workers)]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        self.proc = subprocess.Popen(
            args,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        try:
            self._read_until_serving(self.proc.stdout, timeout)
            # Keep draining the log so a chatty server never blocks on a full pipe.
            self._drain = threading.Thread(target=self._keep_reading,
                                           args=(self.proc.stdout,), daemon=True)
            self._drain.start()
            self.wait_healthy(timeout)
        except BaseException:
            self.kill()  # never leave a half-started server behind
            raise
        return self

    def _keep_reading(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.append(line)
            if len(self.output) > 500:
                del self.output[:250]

    def _read_until_serving(self, stream: IO[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        expect_password = False
        while time.monotonic() < deadline:
            line = stream.readline()
            if not line:
                raise RuntimeError("collector serve exited:\n" + "".join(self.output))
            self.output.append(line)
            match = re.search(r"write key: (\S+)", line)
            if match:
                self.write_key = match.group(1)
            if expect_password:
                self.admin_password = line.strip()
                expect_password = False
            if "password (shown once)" in line:
                expect_password = True
            if line.startswith("Serving on"):
                return
        raise RuntimeError("collector serve did not start:\n" + "".join(self.output))

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("collector serve exited:\n" + "".join(self.output))
            time.sleep(0.05)
        raise RuntimeError(f"collector at {self.url} not healthy in {timeout}s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn master and workers)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)
        if self._drain is not None:
            self._drain.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.kill()
