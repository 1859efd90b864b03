"""How many bytes of payload each site may keep in quarantine per hour.

Unusable bodies (not JSON, no ``events`` list) and rejected events are kept so an
operator can see what a broken client sends; a client sending nothing else must not fill
the disk with them. Within the budget a payload is kept (a whole body up to its first
64 KiB); beyond it, it is still counted with its reasons, without the payload. The
budget is per process.
"""

from __future__ import annotations

import threading
import time

QUARANTINE_BYTES_PER_HOUR = 10 * 1024 * 1024


class QuarantineBudget:
    """Bytes per site and clock hour; ``take`` says whether a payload may be kept."""

    def __init__(self, bytes_per_hour: int = QUARANTINE_BYTES_PER_HOUR) -> None:
        self.bytes_per_hour = bytes_per_hour
        self._lock = threading.Lock()
        self._used: dict[int, tuple[int, int]] = {}  # site id -> (hour, bytes kept)

    def take(self, site_id: int, size: int) -> bool:
        """Reserve ``size`` bytes of the site's budget this hour; False when it is used up."""
        hour = int(time.time() // 3600)
        with self._lock:
            used_hour, used = self._used.get(site_id, (hour, 0))
            if used_hour != hour:
                used = 0
            if used + size > self.bytes_per_hour:
                self._used[site_id] = (hour, used)
                return False
            self._used[site_id] = (hour, used + size)
            return True
