"""Error codes of the ingest doors, one table for HTTP (``params.err``) and WebSocket
error frames, so a client decides to retry or drop from the code alone, never from text.

An HTTP error answers with the code's status; a WebSocket error frame is
``{"id", "error", "code", "retry"}`` plus ``retry_after_ms`` when the server knows how
long to wait (HTTP says the same in ``Retry-After``, in whole seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    status: int  # the HTTP status that carries it
    retry: bool  # resending the same batch later can succeed
    retry_after_ms: int | None = None  # default wait before resending, when there is one


INVALID_REQUEST = ErrorCode("INVALID_REQUEST", 400, False)  # not JSON, no events list
INVALID_GZIP = ErrorCode("INVALID_GZIP", 400, False)
INVALID_WRITE_KEY = ErrorCode("INVALID_WRITE_KEY", 401, False)
ORIGIN_NOT_ALLOWED = ErrorCode("ORIGIN_NOT_ALLOWED", 403, False)
BODY_TOO_LARGE = ErrorCode("BODY_TOO_LARGE", 413, False)
UNSUPPORTED_ENCODING = ErrorCode("UNSUPPORTED_ENCODING", 415, False)
RATE_LIMITED = ErrorCode("RATE_LIMITED", 429, True, 1000)  # the bucket refills in 1 s
# Nothing was stored; a short outage (restart, failover) is the common case.
STORAGE_UNAVAILABLE = ErrorCode("STORAGE_UNAVAILABLE", 503, True, 2000)


def error_frame(batch_id: Any, error: ErrorCode, message: str,
                retry_after_ms: int | None = None) -> dict[str, Any]:
    """The WebSocket answer to a frame that could not be stored."""
    frame: dict[str, Any] = {"id": batch_id, "error": message, "code": error.code,
                             "retry": error.retry}
    wait = retry_after_ms if retry_after_ms is not None else error.retry_after_ms
    if wait is not None:
        frame["retry_after_ms"] = wait
    return frame


def retry_after_header(error: ErrorCode, retry_after_ms: int | None = None) -> str | None:
    """HTTP ``Retry-After`` (whole seconds, at least 1) for a code clients retry."""
    wait = retry_after_ms if retry_after_ms is not None else error.retry_after_ms
    if not error.retry or wait is None:
        return None
    return str(max(1, math.ceil(wait / 1000)))
