"""The interned event shapes (``dash_keys``) as read by dashboard queries."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from collector.storage.models import DASH_KEYS, DashKey


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One event shape; empty strings mean "absent"."""

    id: int
    site_id: int
    eid: str
    name: str
    course_id: str
    page_id: str
    object_type: str
    edata_type: str
    target: str  # IMPRESSION page (uri without query) or INTERACT edata.id

    @property
    def page_label(self) -> str:
        return self.target or self.page_id or "(unnamed page)"


class KeyCatalog:
    """Every key of the database, read incrementally (keys are never changed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[int, KeyInfo] = {}
        self._max_id = 0

    def load(self, conn: Connection) -> dict[int, KeyInfo]:
        """All keys, reading only the ones added since the last call."""
        with self._lock:
            self._read(conn, DashKey.id > self._max_id)
            # On PostgreSQL a lower id can commit after a higher one was read: recount.
            total = conn.execute(select(func.count()).select_from(DashKey)).scalar_one()
            if total != len(self._keys):
                self._keys.clear()
                self._read(conn, DashKey.id > 0)
            return dict(self._keys)

    def _read(self, conn: Connection, where: object) -> None:
        cols = DASH_KEYS.c
        rows = conn.execute(select(cols.id, cols.site_id, cols.eid, cols.name, cols.course_id,
                                   cols.page_id, cols.object_type, cols.edata_type,
                                   cols.target).where(where))  # type: ignore[arg-type]
        for row in rows:
            self._keys[row[0]] = KeyInfo(*row)
            self._max_id = max(self._max_id, row[0])
