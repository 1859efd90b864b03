"""Forwarding of xAPI statements to an LRS and Caliper events to a Caliper endpoint.

Configured by ``COLLECTOR_LRS_URL`` (+ ``COLLECTOR_LRS_AUTH``) and/or
``COLLECTOR_CALIPER_URL`` (+ ``COLLECTOR_CALIPER_TOKEN``). When a target is configured,
:func:`init_app` adds the outbox persist hook to the ingest writer, so every event that
can map is queued in the same transaction that stores it. :func:`start_forwarders`
(called by each ``collector serve`` worker) runs one background forwarder per target;
``collector forward xapi|caliper`` drains the outbox once from the command line.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from collector.core.mapping import public_base
from collector.ingest.pipeline import get_pipeline
from collector.outbound.forwarder import (
    Forwarder,
    ForwarderThread,
    Sender,
    release_orphaned_leases,
)
from collector.outbound.outbox import outbox_hook, target_status
from collector.outbound.senders import CaliperSender, ConfigError, LrsSender
from collector.storage.engine import get_engine

EXTENSION = "collector.outbound.forwarding"


def configured_targets(config: Any) -> dict[str, str]:
    """Target -> receiver URL for each configured target (no credentials in the URL)."""
    targets: dict[str, str] = {}
    if config.get("LRS_URL"):
        targets["xapi"] = str(config["LRS_URL"]).rstrip("/") + "/statements"
    if config.get("CALIPER_URL"):
        targets["caliper"] = str(config["CALIPER_URL"])
    return targets


def make_sender(app: Flask, target: str) -> Sender:
    """A sender for ``target`` from the app's config; ConfigError when it is not set."""
    config = app.config
    if target == "xapi":
        if not config.get("LRS_URL"):
            raise ConfigError("xAPI forwarding needs COLLECTOR_LRS_URL (the LRS endpoint, "
                              "e.g. https://lrs.example.org/xAPI)")
        return LrsSender(config["LRS_URL"], config.get("LRS_AUTH"))
    if target == "caliper":
        if not config.get("CALIPER_URL"):
            raise ConfigError("Caliper forwarding needs COLLECTOR_CALIPER_URL")
        return CaliperSender(config["CALIPER_URL"], config.get("CALIPER_TOKEN"),
                             public_base(config.get("PUBLIC_URL")))
    raise ConfigError(f"unknown forwarding target {target!r}; expected xapi or caliper")


def make_forwarder(app: Flask, target: str, **options: Any) -> Forwarder:
    return Forwarder(get_engine(app), make_sender(app, target),
                     public_base(app.config.get("PUBLIC_URL")), **options)


def init_app(app: Flask) -> None:
    """Queue mappable events at ingest for every configured target (checked here, at start)."""

    targets = configured_targets(app.config)
    wake = threading.Event()
    app.extensions[EXTENSION] = {"targets": targets, "wake": wake, "threads": []}
    if not targets:
        return
    for target in targets:
        make_sender(app, target).close()  # a bad URL or credential fails at start, clearly
    pipeline = get_pipeline(app)
    pipeline.in_transaction(outbox_hook(list(targets)))
    pipeline.after_commit(lambda _site, _stored: wake.set())


def start_forwarders(app: Flask) -> list[ForwarderThread]:
    """Start one background forwarder per configured target in this process."""
    state = app.extensions[EXTENSION]
    threads: list[ForwarderThread] = state["threads"]
    if threads:
        return threads
    engine = get_engine(app)
    for target in state["targets"]:
        release_orphaned_leases(engine, target)  # left by a crashed process of this host
        thread = ForwarderThread(make_forwarder(app, target), state["wake"])
        thread.start()
        threads.append(thread)
    return threads


def stop_forwarders(app: Flask) -> None:
    state = app.extensions.get(EXTENSION) or {}
    for thread in state.get("threads", []):
        thread.stop()
    state["threads"] = []


def forwarding_status(app: Flask | None = None) -> dict[str, dict[str, Any]]:
    """Per target: configured, endpoint, pending/failed/sent/unmapped, last success/error.

    For the dashboard; endpoints are shown without credentials.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    targets = configured_targets(app.config)
    engine = get_engine(app)
    out: dict[str, dict[str, Any]] = {}
    for target in ("xapi", "caliper"):
        status = target_status(engine, target)
        endpoint = targets.get(target)
        if endpoint:
            parts = urlsplit(endpoint)
            endpoint = f"{parts.scheme}://{parts.hostname}" + (
                f":{parts.port}" if parts.port else "") + parts.path
        out[target] = {"configured": target in targets, "endpoint": endpoint, **status}
    return out
