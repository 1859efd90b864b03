"""In-process live hub: ingest publishes what it stored, dashboards subscribe."""

from __future__ import annotations

import queue
import threading
from typing import Any

SUBSCRIBER_QUEUE = 1000


class LiveHub:
    """Fan-out of stored-event summaries to subscriber queues (bounded; slow readers drop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[queue.Queue[list[dict[str, Any]]]] = set()

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self) -> queue.Queue[list[dict[str, Any]]]:
        q: queue.Queue[list[dict[str, Any]]] = queue.Queue(maxsize=SUBSCRIBER_QUEUE)
        with self._lock:
            self._subscribers.add(q)
        return q

    def unsubscribe(self, q: queue.Queue[list[dict[str, Any]]]) -> None:
        with self._lock:
            self._subscribers.discard(q)

    def publish(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            try:
                q.put_nowait(events)
            except queue.Full:
                pass  # a reader this far behind refreshes from the database anyway
