"""WebSocket routes: flask-sock with our bounded server class handed to every route.

flask-sock builds each connection from its module-level ``simple_websocket.Server``.
:class:`BoundedSock` takes the server class explicitly instead (see
:mod:`collector.web.wsserver` for what it bounds), so no module is patched. Routes are
declared on blueprints (``sock.route(path, bp=bp)``) and registered with them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from collector.web.wsserver import ClosingHandshakeServer, server_options

Handler = Callable[..., None]


class BoundedSock(Sock):
    """flask-sock whose routes build ``server_class`` connections."""

    def __init__(self, server_class: type[Any]) -> None:
        super().__init__()
        self.server_class = server_class

    def route(self, path: str, bp: Blueprint | None = None,
              **kwargs: Any) -> Callable[[Handler], Handler]:
        if bp is None:
            raise TypeError("declare WebSocket routes on a blueprint (bp=...)")

        def decorator(handler: Handler) -> Handler:
            @wraps(handler)
            def websocket_route(*args: Any, **route_kwargs: Any) -> Response:
                options = current_app.config.get("SOCK_SERVER_OPTIONS", {})
                ws = self.server_class(request.environ, **options)
                try:
                    handler(ws, *args, **route_kwargs)
                except ConnectionClosed:
                    pass
                try:
                    ws.close()
                except Exception:  # noqa: BLE001 - the peer may already be gone
                    pass
                ws.finish()
                return _HandledResponse(ws.mode)

            bp.route(path, websocket=True, **kwargs)(websocket_route)
            return handler

        return decorator


class _HandledResponse(Response):
    """What the WSGI server gets once the handler returns: the socket is already done."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "gunicorn":
            raise StopIteration()
        if self.mode == "werkzeug":
            return super().__call__(*args, **kwargs)
        return []


sock = BoundedSock(ClosingHandshakeServer)


def init_app(app: Flask) -> None:
    """Bounds of every WebSocket connection (``SOCK_SERVER_OPTIONS`` overrides them)."""
    options = server_options(app.config["MAX_BODY_BYTES"])
    options.update(app.config.get("SOCK_SERVER_OPTIONS") or {})
    app.config["SOCK_SERVER_OPTIONS"] = options
