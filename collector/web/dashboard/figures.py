"""Plotly figures built in Python; the browser only draws them (plotly.js, served locally).

Every text that comes from events is HTML-escaped first: plotly.js turns a few tags
(``<a>``, ``<b>``, ``<br>``...) in labels into markup, and it shows ``&lt;`` as ``<``,
so an event field holding ``<script>`` or a link is drawn as plain text.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

from collector.analytics.flow import FlowResult
from collector.analytics.funnel import FunnelResult
from collector.web.dashboard.timefmt import utc_text

LAYOUT = {"template": "none", "margin": {"l": 40, "r": 20, "t": 30, "b": 40}, "height": 360,
          "font": {"family": "system-ui, sans-serif", "size": 12}}


def text(value: object) -> str:
    """Event-controlled text, safe for plotly labels."""
    return html.escape(str(value), quote=False)


def as_json(fig: go.Figure) -> dict[str, Any]:
    """A plain dict (data + layout) that ``Plotly.react`` accepts."""
    out: dict[str, Any] = fig.to_plotly_json()
    return {"data": out.get("data", []), "layout": out.get("layout", {})}


def _minute_time(minute: int) -> str:
    return utc_text(minute * 60_000, "%Y-%m-%dT%H:%MZ")


def events_per_minute(series: list[tuple[int, int, int, int, int]]) -> dict[str, Any]:
    x = [_minute_time(row[0]) for row in series]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=[row[1] for row in series], name="events"))
    fig.add_trace(go.Scatter(x=x, y=[row[2] for row in series], name="course starts",
                             mode="lines"))
    fig.add_trace(go.Scatter(x=x, y=[row[3] for row in series], name="course completions",
                             mode="lines"))
    fig.add_trace(go.Scatter(x=x, y=[row[4] for row in series], name="rejected",
                             mode="lines"))
    fig.update_layout(**LAYOUT, title="Events per minute (server time, UTC)",
                      legend={"orientation": "h"})
    return as_json(fig)


def flow_sankey(result: FlowResult) -> dict[str, Any]:
    """Sankey of the flow; node ``customdata`` is [step, raw label] for click-through
    (customdata is only read by the page script, never drawn)."""
    index: dict[tuple[int, str], int] = {}
    labels: list[str] = []
    custom: list[list[Any]] = []
    counts = {(step, label): n for step, column in enumerate(result.steps)
              for label, n in column}

    def node(step: int, label: str) -> int:
        if (step, label) not in index:
            index[(step, label)] = len(labels)
            labels.append(f"{text(label)} ({counts.get((step, label), 0)})")
            custom.append([step, label])
        return index[(step, label)]

    sources, targets, values = [], [], []
    for step, a, b, n in result.links:
        sources.append(node(step, a))
        targets.append(node(step + 1, b))
        values.append(n)
    fig = go.Figure(go.Sankey(
        arrangement="fixed",  # draggable nodes swallow clicks; a click lists sessions
        node={"label": labels, "customdata": custom, "pad": 12, "thickness": 14,
              "hovertemplate": "%{label}<extra>step %{customdata[0]}</extra>"},
        link={"source": sources, "target": targets, "value": values},
    ))
    title = f"Session flow: {result.sessions} sessions"
    if not values:
        title += " (no links at this minimum count)"
    fig.update_layout(**{**LAYOUT, "height": 480}, title=title)
    return as_json(fig)


def funnel_chart(result: FunnelResult, unordered: bool) -> dict[str, Any]:
    names = [f"{i + 1}. " + (f"any {i + 1} steps" if unordered else text(s.label))
             for i, s in enumerate(result.steps)]
    fig = go.Figure(go.Funnel(y=names, x=[s.count for s in result.steps],
                              textinfo="value+percent initial"))
    fig.update_layout(**LAYOUT, title=f"Funnel over {result.units} units with a matching event",
                      yaxis={"automargin": True})
    return as_json(fig)


def rejected_per_hour(per_hour: list[tuple[int, int]]) -> dict[str, Any]:
    fig = go.Figure(go.Bar(
        x=[utc_text(h * 3_600_000, "%Y-%m-%dT%H:00Z") for h, _ in per_hour],
        y=[n for _, n in per_hour], name="rejected"))
    fig.update_layout(**LAYOUT, title="Rejected events per hour (server time, UTC)")
    return as_json(fig)
