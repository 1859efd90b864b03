"""HTTP senders: POST a batch to an LRS (xAPI) or a Caliper endpoint and classify the answer.

One persistent HTTP connection per sender (keep-alive), reopened after any error. The
answer is one of: ``ok`` (stored), ``retry`` (network trouble, 5xx, 429, auth: try again
later), ``conflict`` (409: the LRS already has a statement with one of these ids) or
``refused`` (other 4xx: this batch will never be accepted as it is).
"""

from __future__ import annotations

import base64
import http.client
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from collector.core.mapping.caliper import caliper_envelope
from collector.storage.models import now_ms

Outcome = Literal["ok", "retry", "conflict", "refused"]
TIMEOUT_S = 30.0
_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class SendResult:
    outcome: Outcome
    detail: str = ""


class ConfigError(ValueError):
    """A forwarding URL or credential cannot be used."""


class HttpEndpoint:
    """POST JSON to one URL over a kept-alive connection."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float = TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{url!r} is not an http(s) URL")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.path = parts.path or "/"
        if parts.query:
            self.path += "?" + parts.query
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        "User-Agent": "learning-telemetry-collector", **headers}
        self.timeout = timeout
        port = f":{parts.port}" if parts.port else ""
        # Shown in status and errors: never the credentials (they are headers only).
        self.display = f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (http.client.HTTPSConnection if self.scheme == "https"
                   else http.client.HTTPConnection)
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def post(self, body: bytes) -> tuple[int, str]:
        """(status, start of the response body); raises OSError on network trouble."""
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", self.path, body=body, headers=self.headers)
                response = conn.getresponse()
                text = response.read(4096).decode("utf-8", "replace")
                while response.read(65536):  # drain the rest so the connection is reusable
                    pass
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, text
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server had closed: reconnect once.
                self.close()
                if attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
        raise AssertionError("unreachable")


def classify(status: int, text: str) -> SendResult:
    detail = f"HTTP {status}: {' '.join(text.split())[:300]}"
    if 200 <= status < 300:
        return SendResult("ok")
    if status == 409:
        return SendResult("conflict", detail)
    if status in (401, 403):  # credentials: an operator fixes them, then sending resumes
        return SendResult("retry", detail + " (check the forwarding credentials)")
    if status in (408, 425, 429) or status >= 500:
        return SendResult("retry", detail)
    return SendResult("refused", detail)


def lrs_authorization(auth: str | None) -> dict[str, str]:
    """``COLLECTOR_LRS_AUTH``: ``user:password`` (sent as Basic) or a whole header value."""
    if not auth:
        return {}
    if " " in auth.strip():  # "Basic abc=", "Bearer t": used as given
        return {"Authorization": auth.strip()}
    if ":" not in auth:
        raise ConfigError("COLLECTOR_LRS_AUTH must be 'user:password' or a full "
                          "Authorization header value such as 'Basic <base64>'")
    return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}


class LrsSender:
    """xAPI 1.0.3: POST a list of statements to ``<LRS>/statements``."""

    target = "xapi"

    def __init__(self, lrs_url: str, auth: str | None, timeout: float = TIMEOUT_S) -> None:
        url = lrs_url.rstrip("/") + "/statements"
        self.endpoint = HttpEndpoint(url, {"X-Experience-API-Version": "1.0.3",
                                           **lrs_authorization(auth)}, timeout)

    def send(self, documents: list[Any]) -> SendResult:
        try:
            status, text = self.endpoint.post(_encode(documents))
        except (OSError, http.client.HTTPException) as exc:
            return SendResult("retry", f"{self.endpoint.display}: {type(exc).__name__}: {exc}")
        return classify(status, text)

    def close(self) -> None:
        self.endpoint.close()


class CaliperSender:
    """Caliper 1.2: POST one envelope with the events to the endpoint, Bearer token."""

    target = "caliper"

    def __init__(self, url: str, token: str | None, public_url: str,
                 timeout: float = TIMEOUT_S) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.endpoint = HttpEndpoint(url, headers, timeout)
        self.public_url = public_url

    def send(self, documents: list[Any]) -> SendResult:

        body = _encode(caliper_envelope(documents, self.public_url, now_ms()))
        try:
            status, text = self.endpoint.post(body)
        except (OSError, http.client.HTTPException) as exc:
            return SendResult("retry", f"{self.endpoint.display}: {type(exc).__name__}: {exc}")
        result = classify(status, text)
        if result.outcome == "conflict":  # Caliper has no such answer: 409 is a refusal
            return SendResult("refused", result.detail)
        return result

    def close(self) -> None:
        self.endpoint.close()
