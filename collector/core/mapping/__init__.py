"""Pure, deterministic mappers: a stored Telemetry V3 event in, xAPI / Caliper out.

The mappers do no I/O. Everything they need beyond the event itself is passed in a
small :class:`MappingContext`: the root sid of the event's session chain (xAPI
``context.registration``), whether the event is a non-canonical course START, and the
collector's public URL (actor ``account.homePage``, page IRIs, Caliper ids). When an
event produces nothing, the mapper returns a :class:`Skip` saying why; ``Skip.error``
tells bad data (a clear mapping error) from events that map to nothing by design.
"""

from __future__ import annotations

from dataclasses import dataclass

# Used when COLLECTOR_PUBLIC_URL is unset: a valid, stable IRI for account.homePage, so
# the same learner keeps the same xAPI identity across exports. Set PUBLIC_URL in
# production so statements name the real collector.
DEFAULT_PUBLIC_URL = "http://localhost"


@dataclass(frozen=True, slots=True)
class MappingContext:
    """What a mapper knows about an event beyond its JSON."""

    public_url: str = DEFAULT_PUBLIC_URL
    chain_root: str | None = None  # root sid of the session chain (events.chain_id)
    duplicate: bool = False  # a non-canonical course START (events.duplicate_of is set)
    site: str = ""  # the site's name: ids are uuid5(namespace, site + ":" + mid)


def statement_key(context: MappingContext, mid: str) -> str:
    """What a statement id is derived from: mids are unique per site only."""
    return f"{context.site}:{mid}"


@dataclass(frozen=True, slots=True)
class Skip:
    """No statement for this event: ``code`` is a catalog reason, ``reason`` says it in words."""

    code: str
    reason: str
    error: bool = False  # True: bad data (a mapping error); False: nothing to map by design

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


DUPLICATE_COURSE_START = Skip(
    "duplicate-course-start", "a repeated course START in the same session chain "
    "(duplicate_of is set); only the canonical one maps")


def public_base(url: str | None) -> str:
    """PUBLIC_URL without a trailing slash, or the documented default."""
    url = (url or "").strip().rstrip("/")
    return url or DEFAULT_PUBLIC_URL
