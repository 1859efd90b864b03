"""Python tracking API, after the edX event-tracking design.

::

    from collector.tracking.tracker import tracker as tracking

    tracking.register("org.video.paused", "A learner paused a video",
                      {"video_id": "The video", "position": "Seconds into the video"})
    with tracking.context("request", {"actor_id": "learner-7", "course_id": "algebra"}):
        tracking.emit("org.video.paused", {"video_id": "v1", "position": 12.5})

``emit`` always records the event: an unregistered name or fields that differ from the
registration produce warnings (logged and stored on the event) at ingest, never a
dropped event. Events go through *processors* (callables that may change an event or
drop it by raising :class:`DropEvent` with a reason) and then to every *backend* (objects
with ``send(event)``); a failing processor or backend is logged and the others carry on.
The database backend stores the event through the one ingest pipeline as a V3 EXDATA
event ``edata {type: name, data, version}`` of the internal site ``collector``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import msgspec
from flask import Flask, current_app, has_app_context

from collector.ingest.pipeline import get_pipeline
from collector.storage.engine import get_engine
from collector.storage.models import now_ms
from collector.tracking.backend import DatabaseBackend
from collector.tracking.registry import Registration, Registry, check_name
from collector.tracking.registry_checks import (
    WarningLog,
    after_commit,
    check_custom_events,
    persist_catalog,
)

log = logging.getLogger("collector.tracking")

Processor = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class Backend(Protocol):
    def send(self, event: dict[str, Any]) -> None: ...


class DropEvent(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a processor to drop the event; its message is the logged reason."""


class Tracker:
    """Registry access, a per-thread context stack, processors and backends.

    An event is a dict ``{"name", "mid", "ets", "version", "context", "data"}``;
    processors receive it in order, backends receive the processed result.
    """

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry
        self.processors: list[Processor] = []
        self.backends: dict[str, Backend] = {}
        self._local = threading.local()

    # --- configuration -----------------------------------------------------------------

    def add_processor(self, processor: Processor) -> None:
        if not callable(processor):
            raise TypeError(f"processor {processor!r} is not callable")
        self.processors.append(processor)

    def add_backend(self, name: str, backend: Backend) -> None:
        if not callable(getattr(backend, "send", None)):
            raise TypeError(f"backend {name!r} ({type(backend).__name__}) has no send(event)")
        self.backends[name] = backend

    # --- registry --------------------------------------------------------------------

    def register(self, name: str, description: str,
                 fields: Mapping[str, str] | list[str] | None = None,
                 version: int = 1) -> Registration:
        """Store versioned metadata of ``name``; a changed field set needs a new version."""
        if self.registry is None:
            raise RuntimeError("this tracker has no registry")
        return self.registry.register(name, description, fields or {}, version)

    # --- context stack -----------------------------------------------------------------

    @property
    def _stack(self) -> list[tuple[str, dict[str, Any]]]:
        stack: list[tuple[str, dict[str, Any]]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def enter_context(self, name: str, ctx: Mapping[str, Any]) -> None:
        """Merge ``ctx`` into every event emitted (by this thread) until ``exit_context``.

        Later contexts win over earlier ones for the same key.
        """
        if not isinstance(ctx, Mapping):
            raise TypeError(f"enter_context({name!r}, ctx): ctx must be a mapping, "
                            f"got {type(ctx).__name__}")
        self._stack.append((name, dict(ctx)))

    def exit_context(self, name: str) -> None:
        """Remove the most recently entered context called ``name``."""
        stack = self._stack
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == name:
                del stack[i]
                return
        entered = ", ".join(repr(n) for n, _ in stack) or "none"
        raise KeyError(f"exit_context({name!r}): no such context entered (entered: {entered})")

    @contextmanager
    def context(self, name: str, ctx: Mapping[str, Any]) -> Iterator[None]:
        """``with tracker.context(name, ctx):`` enter, and exit even on an exception."""
        self.enter_context(name, ctx)
        try:
            yield
        finally:
            self.exit_context(name)

    def resolve_context(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for _, ctx in self._stack:
            merged.update(ctx)
        return merged

    # --- emit --------------------------------------------------------------------------

    def emit(self, name: str, data: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Build the event, run the processors, send it to every backend.

        Returns the event as sent, or ``None`` when a processor dropped it.
        """
        check_name(name, "emit: name")
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise TypeError(f"emit({name!r}, data): data must be a mapping of field values, "
                            f"got {type(data).__name__}")
        version = (self.registry.latest_version(self.registry.python_site(), name)
                   if self.registry is not None and self.registry.own_site is not None
                   else None)
        event: dict[str, Any] = {
            "name": name, "mid": str(uuid.uuid4()), "ets": now_ms(), "version": version,
            "context": jsonable(self.resolve_context(), name),
            "data": jsonable(data, name),
        }
        for processor in self.processors:
            try:
                changed = processor(event)
            except DropEvent as exc:
                log.info("tracking: %s dropped by processor %s: %s", name,
                         _label(processor), exc)
                return None
            except Exception:  # noqa: BLE001 - a broken processor must not lose events
                log.exception("tracking: processor %s failed on %s; event kept",
                              _label(processor), name)
                continue
            if changed is not None:
                event = changed
        for backend_name, backend in list(self.backends.items()):
            try:
                backend.send(event)
            except Exception:  # noqa: BLE001 - one failing backend never stops the others
                log.exception("tracking: backend %r failed to send %s (mid %s)",
                              backend_name, name, event.get("mid"))
        return event


def _label(processor: Any) -> str:
    return getattr(processor, "__qualname__", None) or type(processor).__name__


def jsonable(value: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``value`` as JSON-ready builtins; what JSON cannot hold is kept as its ``str()``."""

    def fallback(obj: Any) -> str:
        log.warning("tracking: %s: a %s value is not JSON-serializable; stored as its str()",
                    name, type(obj).__name__)
        return str(obj)

    result: dict[str, Any] = msgspec.to_builtins(dict(value), enc_hook=fallback,
                                                 str_keys=True)
    return result


# --- the app's tracker and module-level calls ------------------------------------------


def get_tracker(app: Flask | None = None) -> Tracker:
    """The tracker of ``app`` (default: the current app)."""
    if app is None:
        if not has_app_context():
            raise RuntimeError("collector.tracking needs an application: call it inside "
                               "`with app.app_context():` or use get_tracker(app)")
        app = current_app
    tracker: Tracker = app.extensions["collector.tracker"]
    return tracker


def register(name: str, description: str, fields: Mapping[str, str] | list[str] | None = None,
             version: int = 1) -> Registration:
    """Register ``name`` on the current app's tracker (see :meth:`Tracker.register`)."""
    return get_tracker().register(name, description, fields, version)


def emit(name: str, data: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Emit ``name`` with ``data`` on the current app's tracker."""
    return get_tracker().emit(name, data)


def enter_context(name: str, ctx: Mapping[str, Any]) -> None:
    get_tracker().enter_context(name, ctx)


def exit_context(name: str) -> None:
    get_tracker().exit_context(name)


def context(name: str, ctx: Mapping[str, Any]) -> Any:
    """Context manager: ``with tracking.context("request", {...}):``."""
    return get_tracker().context(name, ctx)


def init_app(app: Flask) -> None:
    """The app's registry and tracker, and the registry's part of ingest."""
    database = DatabaseBackend(app)
    # Python registrations document the collector's own site, where tracked events go.
    registry = Registry(get_engine(app), own_site=lambda: database.site().id)
    tracker = Tracker(registry)
    tracker.add_backend("database", database)
    app.extensions["collector.registry"] = registry
    app.extensions["collector.tracker"] = tracker

    pipeline = get_pipeline(app)
    warn_log = WarningLog()
    pipeline.before_store(
        lambda site, valid: check_custom_events(registry, warn_log, site, valid))
    pipeline.in_transaction(persist_catalog)
    pipeline.after_commit(lambda site, stored: after_commit(registry, stored))
