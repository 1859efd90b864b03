"""``collector serve``: gunicorn with the threaded worker (what flask-sock supports)."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext
from gunicorn.app.base import BaseApplication

from collector.cli.bootstrap import bootstrap
from collector.gc_policy import tune_for_ingest
from collector.ingest.pipeline import shutdown
from collector.outbound.forwarding import start_forwarders
from collector.storage import engine as db


class CollectorServer(BaseApplication):
    """Each worker builds its own app (own engine, writer thread, live hub)."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        limit_malloc_arenas()
        app = self.factory()
        app.config["WS_MAX_SOCKETS"] = websocket_threads(self.options["threads"])
        start_forwarders(app)  # per worker process, after the fork
        tune_for_ingest()
        return app


M_ARENA_MAX = -8  # glibc's mallopt parameter number
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas for this process's threads.

    glibc gives each thread that allocates concurrently an arena of its own, up to eight
    per core, and returns their freed memory to the system only from the top. With one
    thread per WebSocket, resident memory creeps up after warm-up although Python's own
    allocations stay flat (tracemalloc); fewer arenas mean less memory held per thread.
    ``collector bench soak`` reports the growth (``rss_growth_last_30s``). Elsewhere than
    glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


HTTP_THREADS = 16  # threads per process that ingest WebSockets never take


def websocket_threads(threads: int) -> int:
    """Open ingest WebSockets allowed per process: the rest stay for plain HTTP."""
    return max(1, threads - min(HTTP_THREADS, threads // 2))


def run_gunicorn(factory: Callable[[], Flask], *, host: str, port: int, workers: int,
                 threads: int) -> None:
    CollectorServer(factory, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "preload_app": False,
    }).run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes; keep 1 on SQLite, raise it on PostgreSQL.")
@click.option("--threads", default=256, show_default=True, type=click.IntRange(4, 4096),
              help="Threads per process; each open WebSocket holds one.")
@with_appcontext
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Migrate, create site 'default' and user 'admin' on first run, serve with gunicorn."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db.upgrade(db.get_engine())
    base = app.config.get("PUBLIC_URL") or f"http://{host}:{port}"
    for line in bootstrap(app, base):
        click.echo(line)
    click.echo(f"Serving on http://{host}:{port}  (demo: {base}/demo, dashboard: "
               f"{base}/dashboard; database: {db.get_engine().url.render_as_string()})")
    sys.stdout.flush()
    # Workers build their own app after the fork: stop this one's threads and connections.
    shutdown(app)
    factory = click.get_current_context().ensure_object(ScriptInfo).create_app
    if factory is None:  # pragma: no cover - the collector group always sets one
        raise click.UsageError("no application factory")
    run_gunicorn(factory, host=host, port=port, workers=workers, threads=threads)
