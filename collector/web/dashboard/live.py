"""``/v1/live``: stored events pushed to open dashboards, debounced.

Each socket waits for a first update from the process's live feed
(:mod:`collector.analytics.live_feed`), collects what else arrives for ``DEBOUNCE_S``
and sends one frame ``{"type": "events", "count": n, "events": [last few summaries]}``,
so a burst of 1,000 events/s costs a browser at most a few frames per second.
"""

from __future__ import annotations

import json
import queue
import time
from typing import Any

from flask import Response, abort, current_app, jsonify, request

from collector.analytics.derived import LIVE_SAMPLE
from collector.analytics.live_feed import IDLE_CHECK_S, MORE, get_feed
from collector.storage.sites import normalize_origin
from collector.web.auth import current_user, readable_sites, session_still_valid
from collector.web.origins import own_origin
from collector.web.site_scope import readable_site_names

DEBOUNCE_S = 0.25
SESSION_CHECK_S = 5.0  # how soon an open socket notices a revoked session


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


def live_probe() -> tuple[Response, int]:
    """Plain ``GET /v1/live``: the answer the handshake would get (401, 403), else 426.

    A browser cannot read why a WebSocket handshake was refused; after a close the
    dashboard asks here to tell "the session ended" from "reconnect".
    """
    response = jsonify({"error": "open /v1/live as a WebSocket"})
    response.headers["Upgrade"] = "websocket"
    return response, 426


def visible_to(sites: set[str] | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summaries (and "more" markers) of the sites a user may read (None: all)."""
    if sites is None:
        return items
    return [e for e in items if e.get("site") in sites]


def live_socket(ws: Any) -> None:
    """Push debounced update frames until the browser goes away (or its session ends):
    a viewer or editor gets only the events of their sites."""
    feed = get_feed()
    q = feed.subscribe()
    sites = None if readable_sites() is None else set(readable_site_names())
    checked = time.monotonic()
    try:
        ws.send(json.dumps({"type": "hello", "mode": feed.mode}))
        while ws.connected:
            if time.monotonic() - checked > SESSION_CHECK_S:
                if not session_still_valid():
                    ws.close(reason=4401, message="session ended")
                    return
                checked = time.monotonic()
            try:
                first = q.get(timeout=IDLE_CHECK_S)
            except queue.Empty:
                continue
            batch = visible_to(sites, list(first))
            deadline = time.monotonic() + DEBOUNCE_S
            while (left := deadline - time.monotonic()) > 0:
                try:
                    batch.extend(visible_to(sites, q.get(timeout=left)))
                except queue.Empty:
                    break
            if not batch:
                continue
            count = sum(e[MORE] if MORE in e else 1 for e in batch)
            sample = [e for e in batch if MORE not in e][-LIVE_SAMPLE:]
            ws.send(json.dumps({"type": "events", "count": count, "events": sample},
                               separators=(",", ":"), default=str))
    finally:
        feed.unsubscribe(q)
