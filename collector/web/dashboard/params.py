"""Query-string parameters of the dashboard pages -> query specs, with clear errors.

Every page is a GET form, so its URL is the shareable definition of what it shows.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Connection, select
from werkzeug.datastructures import MultiDict

from collector.analytics.flow import MAX_DEPTH, MIN_DEPTH, FlowSpec
from collector.analytics.funnel import MAX_STEPS, FunnelSpec, parse_step
from collector.analytics.scope import Scope
from collector.outbound.export import parse_time
from collector.storage.models import Site
from collector.web.auth import readable_sites

WHOLE_NUMBER = re.compile(r"-?[0-9]{1,30}")
# Epoch-ms cursors (``before``) stay within what datetimes and 64-bit columns hold.
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_TOP = 50
MAX_MIN_LINK = 1_000_000_000
WINDOW_UNITS = {"minutes": 60_000, "hours": 3_600_000, "days": 86_400_000}


def site_names(conn: Connection) -> dict[str, int]:
    """Name -> id of the sites the logged-in user may read (every site for an admin):
    what pages offer and the only ``site`` values they accept."""
    allowed = readable_sites()
    return {name: site_id for site_id, name in conn.execute(select(Site.id, Site.name)
                                                             .order_by(Site.name))
            if allowed is None or site_id in allowed}


def int_param(args: MultiDict[str, str], name: str, default: int, *, low: int,
              high: int) -> int:
    """The whole number ``name`` in [low, high] (``default`` when absent), else ValueError.

    Only ASCII digits count (``int()`` also reads other scripts' digits), and the range
    check comes before any query, so no value reaches the database out of its range.
    """
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not WHOLE_NUMBER.fullmatch(raw):
        raise ValueError(f"{name}: {raw[:40]!r} is not a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise ValueError(f"{name}: between {low} and {high}")
    return value


def scope_from(args: MultiDict[str, str], sites: dict[str, int]) -> Scope:
    site = (args.get("site") or "").strip()
    if site and site not in sites:
        raise ValueError(f"site: no site named {site[:100]!r}")
    since = parse_time(args.get("since") or None, "since")
    until = parse_time(args.get("until") or None, "until")
    if since is not None and until is not None and since >= until:
        raise ValueError("since: must be before until")
    return Scope(site_id=sites[site] if site else None,
                 course=(args.get("course") or "").strip() or None,
                 env=(args.get("env") or "").strip() or None,
                 since_ms=since, until_ms=until)


def flow_spec_from(args: MultiDict[str, str], sites: dict[str, int]) -> FlowSpec:
    return FlowSpec(
        scope=scope_from(args, sites),
        depth=int_param(args, "depth", 5, low=MIN_DEPTH, high=MAX_DEPTH),
        top=int_param(args, "top", 8, low=1, high=MAX_TOP),
        min_link=int_param(args, "min_link", 1, low=1, high=MAX_MIN_LINK),
        anchor=args.get("anchor") or "entry",
        page=(args.get("page") or "").strip() or None,
        interactions=args.get("interactions") in ("1", "on", "true"),
    )


def step_texts(args: MultiDict[str, str]) -> list[str]:
    return [s.strip() for s in args.getlist("step") if s.strip()][:MAX_STEPS + 1]


def funnel_spec_from(args: MultiDict[str, str], sites: dict[str, int]) -> FunnelSpec:
    texts = step_texts(args)
    steps = tuple(parse_step(t, f"step {i + 1}") for i, t in enumerate(texts))
    unit = args.get("window_unit") or "days"
    if unit not in WINDOW_UNITS:
        raise ValueError(f"window unit: one of {', '.join(WINDOW_UNITS)}")
    window = int_param(args, "window", 1, low=1, high=100_000)
    return FunnelSpec(steps=steps, mode=args.get("mode") or "ordered",
                      window_ms=window * WINDOW_UNITS[unit], unit=args.get("by") or "session",
                      scope=scope_from(args, sites))


def saved_funnel_site(query: str) -> str:
    """The ``site`` of a saved funnel's query string ("" when it covers every site)."""
    return MultiDict(parse_qsl(query)).get("site", "").strip()


def form_values(args: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted values, to refill the form (Jinja escapes them)."""
    values: dict[str, Any] = {k: args.get(k, "") for k in args}
    values["steps"] = args.getlist("step")
    return values
