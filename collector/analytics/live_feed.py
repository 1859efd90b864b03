"""The live feed: what stored events reach the dashboards of this process, from any process.

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

from flask import Flask, current_app

from collector.analytics.derived import LISTEN_SQL, LIVE_SAMPLE
from collector.ingest.hub import LiveHub
from collector.ingest.pipeline import get_pipeline, live_summary
from collector.storage.sites import SiteAuth

log = logging.getLogger(__name__)

IDLE_CHECK_S = 1.0
LISTENER_IDLE_S = 5.0  # a listener thread with no subscribers for this long stops
REDIS_CHANNEL = "collector:live"
MORE = "_more"


class LiveFeed:
    """The hub dashboards subscribe to in this process, and what feeds it."""

    def __init__(self, *, database_url: str, redis_url: str | None,
                 pipeline_hub: LiveHub) -> None:
        self.redis_url = redis_url
        self.database_url = database_url
        self.postgres = self.database_url.startswith("postgresql")
        self.pipeline_hub = pipeline_hub
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
        # The sample is short; markers carry how many more were stored, per site when the
        # message says (dashboards of some sites count only theirs).
        sites = message.get("sites")
        if isinstance(sites, dict):
            shown: dict[str, int] = {}
            for ev in events:
                site = ev.get("site") if isinstance(ev, dict) else None
                shown[str(site)] = shown.get(str(site), 0) + 1
            markers = [{MORE: n - shown.get(str(site), 0), "site": site}
                       for site, n in sites.items()
                       if isinstance(n, int) and n > shown.get(str(site), 0)]
        else:
            extra = max(0, count - len(events))
            markers = [{MORE: extra}] if extra else []
        self.hub.publish(events + markers)

    def _listen_postgres(self) -> None:
        import psycopg  # PostgreSQL's driver: only on that path

        url = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        idle = {"since": 0.0}
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(LISTEN_SQL)
            self.listening.set()
            while self._still_wanted(idle):
                for note in conn.notifies(timeout=IDLE_CHECK_S):
                    self._deliver(note.payload)

    def _listen_redis(self) -> None:
        import redis  # only with COLLECTOR_REDIS_URL

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
        try:
            if self._redis is None:
                import redis  # only with COLLECTOR_REDIS_URL

                self._redis = redis.Redis.from_url(self.redis_url or "", socket_timeout=2)
            sample = [live_summary(site, ev) for ev in stored[-LIVE_SAMPLE:]]
            self._redis.publish(REDIS_CHANNEL, json.dumps(
                {"count": len(stored), "sites": {site.name: len(stored)}, "events": sample},
                separators=(",", ":")))
        except Exception as exc:  # noqa: BLE001 - dashboards must never fail ingest
            log.warning("live: redis publish failed: %s", exc)


def get_feed(app: Flask | None = None) -> LiveFeed:
    """The live feed of ``app`` (default: the current app)."""
    feed: LiveFeed = (app or current_app).extensions["collector.live_feed"]
    return feed


def init_app(app: Flask) -> None:
    """One feed per process; with Redis, every commit is also published for the others."""
    pipeline = get_pipeline(app)
    feed = LiveFeed(database_url=app.config["DATABASE_URL"],
                    redis_url=app.config.get("REDIS_URL"), pipeline_hub=pipeline.hub)
    app.extensions["collector.live_feed"] = feed
    if feed.mode == "redis":
        pipeline.after_commit(feed.publish_redis)
