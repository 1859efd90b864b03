"""Production serving: gunicorn with the threaded worker (what flask-sock supports)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class CollectorServer(BaseApplication):
    """Each worker builds its own app (own engine, writer thread, live hub)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        import os
        import sys

        from collector import create_app

        if os.environ.get("COLLECTOR_SWITCH_INTERVAL"):
            sys.setswitchinterval(float(os.environ["COLLECTOR_SWITCH_INTERVAL"]))

        from collector.forwarding import start_forwarders

        app = create_app()
        start_forwarders(app)  # per worker process, after the fork
        return app


def run_gunicorn(*, host: str, port: int, workers: int, threads: int) -> None:
    CollectorServer({
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
