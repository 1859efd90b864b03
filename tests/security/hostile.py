"""Reusable attacker material: hostile events, a crawler of every page, escape checks.

Everything here is generic over ``app.url_map``: pages added later (the dashboards) are
crawled, filled with hostile path and query values, and checked without new code.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask
from flask.testing import FlaskClient

from tests.factories import course_start, event, lesson_event

PROBE = "xssprobe"
# One payload per HTML context: element content, attribute values, URLs, scripts.
XSS = (f'"><{PROBE} id=x>\'<{PROBE}2>'
       f'" onmouseover="{PROBE}(1)" \' onfocus=\'{PROBE}(2)\' </script><{PROBE}3>')
JS_URL = f"javascript:{PROBE}(3)"
SQL_PROBE = "sqlprobe'); DROP TABLE events; --"
# Query parameters pages read (today's and the dashboards'); unknown ones are ignored.
QUERY_NAMES = ("site", "course", "env", "since", "until", "step", "page", "anchor", "sid",
               "q", "next", "format", "by", "mode", "window", "window_unit", "depth", "top",
               "min_link", "interactions", "name", "eid", "status", "reason", "actor",
               "lesson", "transport", "limit", "offset", "before", "after", "pattern", "label")
# Pages that are served without login (everything else must redirect or 401).
# /dashboard/plotly.min.js is the Plotly library itself (no data), public like /static/.
PUBLIC_PATHS = ("/", "/login", "/health", "/tracker.js", "/openapi.json", "/demo",
                "/dashboard/plotly.min.js",
                "/static/", "/v1/telemetry", "/data/v3/telemetry", "/v1/beacon")


def hostile_events(payload: str = XSS) -> list[dict[str, Any]]:
    """Valid (stored) events carrying ``payload`` in every free-text field, plus rejected ones."""
    tag = f"{payload}-{uuid.uuid4().hex[:6]}"
    cdata = [{"type": "Course", "id": tag}, {"type": "Lesson", "id": tag},
             {"type": payload, "id": tag}]
    context_extra = {"channel": payload, "env": payload, "did": tag,
                     "pdata": {"id": payload, "ver": payload, "pid": payload},
                     "cdata": cdata, "sid": tag, "rollup": {"l1": payload}}

    def hostile(ev: dict[str, Any]) -> dict[str, Any]:
        ev["actor"] = {"id": tag, "type": payload}
        ev["context"].update(context_extra)
        ev["tags"] = [payload]
        ev["mid"] = f"{payload}-{uuid.uuid4()}"
        return ev

    return [
        hostile(course_start(tag)),
        hostile(lesson_event("START", course=tag, lesson=tag, edata={"type": "lesson"})),
        hostile(lesson_event("IMPRESSION", course=tag, lesson=tag,
                             edata={"type": payload, "pageid": tag, "uri": JS_URL,
                                    "subtype": payload})),
        hostile(lesson_event("IMPRESSION", course=tag, lesson=tag,
                             edata={"type": "view", "pageid": tag, "uri": tag})),
        hostile(lesson_event("INTERACT", course=tag, lesson=tag,
                             edata={"type": payload, "id": tag, "pageid": tag,
                                    "extra": {"pos": [{payload: payload}]}})),
        hostile(lesson_event("ASSESS", course=tag, lesson=tag,
                             edata={"item": {"id": tag, "maxscore": 1, "title": payload},
                                    "pass": "Yes", "score": 1,
                                    "resvalues": [{payload: payload}], "duration": 3})),
        hostile(event("EXDATA", edata={"type": "collector.register", "data": {
            "name": "probe.event", "description": payload,
            "fields": {"field_a": payload}, "version": 1}})),
        hostile(event("EXDATA", edata={"type": "probe.event", "data": {"field_a": payload,
                                                                        payload: 1}})),
        hostile(event("ERROR", edata={"err": payload, "errtype": payload,
                                      "stacktrace": payload})),
        hostile(event("END", edata={"type": "lesson"})),  # rejected: no lesson
        {"eid": payload, "mid": f"{payload}-{uuid.uuid4()}", "edata": {payload: payload}},
    ]


@dataclass
class Route:
    rule: str
    methods: frozenset[str]
    websocket: bool
    arguments: tuple[str, ...]

    def path(self, value: str) -> str:
        """The rule with every variable part set to ``value`` (URL-quoted); ``int`` parts
        get 1, the only kind of value their converter lets through to the view."""
        def fill(match: re.Match[str]) -> str:
            return "1" if match.group(1) == "int" else quote(value, safe="")

        return re.sub(r"<(?:([^:<>]+):)?[^<>]+>", fill, self.rule)

    @property
    def public(self) -> bool:
        return self.rule == "/" or any(
            self.rule == p or (p.endswith("/") and self.rule.startswith(p)) or
            self.rule.startswith(p + "/") for p in PUBLIC_PATHS if p != "/")


def routes(app: Flask) -> list[Route]:
    return [Route(r.rule, frozenset(r.methods or ()), bool(getattr(r, "websocket", False)),
                  tuple(r.arguments)) for r in app.url_map.iter_rules()]


def page_requests(app: Flask, value: str) -> Iterator[str]:
    """GET URLs of every page: variable parts and common query parameters set to ``value``."""
    query = urlencode([(name, value) for name in QUERY_NAMES])
    for route in routes(app):
        if "GET" not in route.methods or route.websocket or route.rule.startswith("/static"):
            continue
        path = route.path(value)
        yield path
        yield f"{path}?{query}"


UNSAFE = [
    re.compile(rf"<{PROBE}", re.I),
    re.compile(rf"""on(mouseover|focus)\s*=\s*["']?{PROBE}""", re.I),
    re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I),
]


def unescaped(body: str) -> list[str]:
    """Places where hostile input reached HTML as markup instead of text."""
    found = []
    for pattern in UNSAFE:
        for match in pattern.finditer(body):
            found.append(body[max(0, match.start() - 60):match.end() + 20])
    return found


@dataclass
class Fetched:
    status_code: int
    mimetype: str
    headers: dict[str, str]
    text: str


def fetch(client: FlaskClient, url: str) -> Fetched:
    """GET ``url`` and close the response (streamed files would otherwise stay open)."""
    with client.get(url) as response:
        return Fetched(response.status_code, response.mimetype, dict(response.headers),
                       response.get_data(as_text=True))
