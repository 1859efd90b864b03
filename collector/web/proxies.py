"""The client's address behind trusted reverse proxies (``COLLECTOR_TRUSTED_PROXIES``).

Login lockouts and ingest rate limits are kept per client address. Behind a proxy every
request comes from the proxy, so one guesser would lock every user out; but a
``X-Forwarded-For`` header is only believed from a proxy the operator named, since
anyone else can write one.

- a number N: N proxies stand in front; werkzeug's ProxyFix takes the N-th address from
  the right of ``X-Forwarded-For`` (and the scheme from ``X-Forwarded-Proto``);
- a list of addresses or networks: when the connecting peer is one of them, the client
  is the rightmost ``X-Forwarded-For`` address that is not itself a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from collector.config import parse_trusted_proxies

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxyAddresses:
    """WSGI middleware: ``REMOTE_ADDR`` from ``X-Forwarded-For`` when the peer is trusted."""

    def __init__(self, wsgi_app: Any, networks: Iterable[str]) -> None:
        self.wsgi_app = wsgi_app
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks)

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_address(self, environ: dict[str, Any]) -> str | None:
        """The first untrusted hop from the right, or None to keep the peer's address."""
        if not self.trusted(environ.get("REMOTE_ADDR", "")):
            return None
        hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            if not self.trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return None  # garbage in the header: keep the proxy's own address
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        client = self.client_address(environ)
        if client is not None:
            environ["werkzeug.proxy_fix.orig_remote_addr"] = environ.get("REMOTE_ADDR")
            environ["REMOTE_ADDR"] = client
        return self.wsgi_app(environ, start_response)


def init_app(app: Flask) -> None:
    """Wrap the WSGI app when the operator configured trusted proxies; else change nothing."""
    setting = app.config.get("TRUSTED_PROXIES") or 0
    if isinstance(setting, str):
        setting = parse_trusted_proxies(setting)
    if isinstance(setting, int):
        if setting > 0:
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=setting,  # type: ignore[method-assign]
                                    x_proto=setting)
        return
    app.wsgi_app = TrustedProxyAddresses(app.wsgi_app, setting)  # type: ignore[method-assign]
