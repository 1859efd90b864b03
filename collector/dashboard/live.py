"""``/v1/live``: stored events pushed to open dashboards, debounced.

Where the events come from depends on how the collector runs:

- one process (the SQLite default): the ingest pipeline's in-process hub;
- PostgreSQL: every ingest commit carries a ``NOTIFY collector_live`` (see
  ``derived.DerivedTables``), so a dashboard on any gunicorn worker hears the commits of
  all workers; one LISTEN thread per process feeds a local hub;
- ``COLLECTOR_REDIS_URL`` set: each process publishes after commit and one subscriber
  thread per process feeds the local hub (takes precedence over NOTIFY).

Each socket waits for a first update, collects what else arrives for ``DEBOUNCE_S`` and
sends one frame ``{"type": "events", "count": n, "events": [last few summaries]}``, so
a burst of 1,000 events/s costs a browser at most a few frames per second.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any

from flask import Flask, abort, current_app, request

from collector.auth import current_user
from collector.dashboard.derived import LISTEN_SQL, LIVE_SAMPLE
from collector.live import LiveHub
from collector.sites import SiteAuth, normalize_origin, own_origin

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.25
IDLE_CHECK_S = 1.0
LISTENER_IDLE_S = 5.0  # a listener thread with no subscribers for this long stops
REDIS_CHANNEL = "collector:live"
MORE = "_more"


class LiveFeed:
    """The hub dashboards subscribe to in this process, and what feeds it."""

    def __init__(self, app: Flask) -> None:
        from collector.ingest import get_pipeline

        self.redis_url: str | None = app.config.get("REDIS_URL")
        self.database_url: str = app.config["DATABASE_URL"]
        self.postgres = self.database_url.startswith("postgresql")
        self.pipeline_hub = get_pipeline(app).hub
        self.hub = self.pipeline_hub if self.mode == "process" else LiveHub()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._redis: Any = None
        self.listening = threading.Event()  # set while a cross-process listener is attached

    @property
    def mode(self) -> str:
        if self.redis_url:
            return "redis"
        return "postgres" if self.postgres else "process"

    def subscribe(self) -> queue.Queue[list[dict[str, Any]]]:
        q = self.hub.subscribe()
        if self.mode != "process":
            self._ensure_listener()
        return q

    def unsubscribe(self, q: queue.Queue[list[dict[str, Any]]]) -> None:
        self.hub.unsubscribe(q)

    # --- cross-process feeds ---------------------------------------------------------

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return  # running, or deciding under this lock whether to stop
            target = self._listen_redis if self.mode == "redis" else self._listen_postgres
            self._thread = threading.Thread(target=self._run, args=(target,), daemon=True,
                                            name=f"collector-live-{self.mode}")
            self._thread.start()

    def _run(self, target: Any) -> None:
        while True:
            try:
                target()  # returns once nobody has listened for LISTENER_IDLE_S
            except Exception as exc:  # noqa: BLE001 - reconnect after a pause
                log.warning("live %s listener: %s", self.mode, exc)
                time.sleep(1.0)
            finally:
                self.listening.clear()
            with self._lock:  # decided under the lock so a new subscriber is never orphaned
                if not self.hub.has_subscribers:
                    self._thread = None
                    return

    def _still_wanted(self, idle: dict[str, float]) -> bool:
        if self.hub.has_subscribers:
            idle["since"] = 0.0
            return True
        idle["since"] = idle["since"] or time.monotonic()
        return time.monotonic() - idle["since"] < LISTENER_IDLE_S

    def _deliver(self, payload: str | bytes) -> None:
        try:
            message = json.loads(payload)
            events = message.get("events") or []
            count = int(message.get("count") or len(events))
        except (ValueError, TypeError, AttributeError):
            return
        # The sample is short; a marker carries how many more were stored.
        extra = max(0, count - len(events))
        self.hub.publish(events + ([{MORE: extra}] if extra else []))

    def _listen_postgres(self) -> None:
        import psycopg

        url = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        idle = {"since": 0.0}
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(LISTEN_SQL)
            self.listening.set()
            while self._still_wanted(idle):
                for note in conn.notifies(timeout=IDLE_CHECK_S):
                    self._deliver(note.payload)

    def _listen_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url or "", socket_timeout=5)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(REDIS_CHANNEL)
            pubsub.get_message(timeout=5, ignore_subscribe_messages=False)  # confirmed
            self.listening.set()
            idle = {"since": 0.0}
            while self._still_wanted(idle):
                message = pubsub.get_message(timeout=IDLE_CHECK_S)
                if message is not None:
                    self._deliver(message["data"])
        finally:
            pubsub.close()
            client.close()

    def publish_redis(self, site: SiteAuth, stored: list[Any]) -> None:
        """Pipeline listener (after commit): tell every process what was stored."""
        from collector.ingest import live_summary

        try:
            if self._redis is None:
                import redis

                self._redis = redis.Redis.from_url(self.redis_url or "", socket_timeout=2)
            sample = [live_summary(site, ev) for ev in stored[-LIVE_SAMPLE:]]
            self._redis.publish(REDIS_CHANNEL, json.dumps(
                {"count": len(stored), "events": sample}, separators=(",", ":")))
        except Exception as exc:  # noqa: BLE001 - dashboards must never fail ingest
            log.warning("live: redis publish failed: %s", exc)


def get_feed(app: Flask | None = None) -> LiveFeed:
    feed: LiveFeed = (app or current_app).extensions["collector.live_feed"]
    return feed


def refuse_foreign_socket() -> None:
    """Before the upgrade: anonymous users get 401, other origins 403 (no hijacking)."""
    if current_user() is None:
        abort(401, description="log in to follow live updates")
    origin = request.headers.get("Origin")
    allowed = {normalize_origin(own_origin())}
    public = current_app.config.get("PUBLIC_URL")
    if public:
        allowed.add(normalize_origin(public))
    if origin and normalize_origin(origin) not in allowed:
        abort(403, description="live updates are only served to the collector's own pages")


def live_socket(ws: Any) -> None:
    """Push debounced update frames until the browser goes away."""
    feed = get_feed()
    q = feed.subscribe()
    try:
        ws.send(json.dumps({"type": "hello", "mode": feed.mode}))
        while ws.connected:
            try:
                first = q.get(timeout=IDLE_CHECK_S)
            except queue.Empty:
                continue
            batch = list(first)
            deadline = time.monotonic() + DEBOUNCE_S
            while (left := deadline - time.monotonic()) > 0:
                try:
                    batch.extend(q.get(timeout=left))
                except queue.Empty:
                    break
            count = sum(e[MORE] if MORE in e else 1 for e in batch)
            sample = [e for e in batch if MORE not in e][-LIVE_SAMPLE:]
            ws.send(json.dumps({"type": "events", "count": count, "events": sample},
                               separators=(",", ":"), default=str))
    finally:
        feed.unsubscribe(q)


def init_app(app: Flask) -> None:
    feed = LiveFeed(app)
    app.extensions["collector.live_feed"] = feed
    if feed.mode == "redis":
        from collector.ingest import get_pipeline

        get_pipeline(app).listeners.append(feed.publish_redis)
