"""How many ingest WebSockets a process holds open, in total and per client address.

Each open WebSocket holds one of the WSGI server's threads for as long as it lives. A
total below the thread count keeps threads free for plain HTTP (``/health``, HTTP ingest,
dashboards); a cap per client address keeps one client from taking every slot. A
connection beyond either is closed with 4429 and the client reconnects later.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

CLOSE_TOO_MANY = 4429


class SocketSlots:
    """Counts of open ingest sockets; ``acquire`` refuses beyond the caps (0 = no cap)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_address: dict[str, int] = {}
        self.total = 0

    def acquire(self, address: str, max_total: int, max_per_address: int) -> str | None:
        """Take a slot for ``address``; returns why not when a cap is reached."""
        with self._lock:
            if max_total and self.total >= max_total:
                return "too many connections to this server; reconnect later"
            held = self._per_address.get(address, 0)
            if max_per_address and held >= max_per_address:
                return "too many connections from this address; reconnect later"
            self._per_address[address] = held + 1
            self.total += 1
            return None

    def release(self, address: str) -> None:
        with self._lock:
            held = self._per_address.get(address, 0) - 1
            if held > 0:
                self._per_address[address] = held
            else:
                self._per_address.pop(address, None)
            self.total -= 1


def get_slots(app: Flask | None = None) -> SocketSlots:
    slots: SocketSlots = (app or current_app).extensions["collector.ws_slots"]
    return slots


def init_app(app: Flask) -> None:
    """One counter per process (each gunicorn worker builds its own app)."""
    app.extensions["collector.ws_slots"] = SocketSlots()
