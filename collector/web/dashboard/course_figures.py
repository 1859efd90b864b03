"""The lesson drop-off chart of the course page, built in Python (plotly.js draws it)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from collector.analytics.courses import CourseProgress
from collector.web.dashboard.figures import LAYOUT, as_json, text


def lesson_dropoff(progress: CourseProgress) -> dict[str, Any]:
    """Started and completed per lesson in course order; hover says the share lost."""
    names = [text(lesson.id) for lesson in progress.lessons]
    lost = lessons_lost(progress)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[lesson.started for lesson in progress.lessons],
                         name="started", marker={"color": "#9db4e8"}))
    fig.add_trace(go.Bar(x=names, y=[lesson.completed for lesson in progress.lessons],
                         name="completed", marker={"color": "#2759c4"},
                         customdata=[[share_text(within), share_text(between)]
                                     for within, between in lost],
                         hovertemplate="%{x}: %{y} completed<br>lost in the lesson: "
                                       "%{customdata[0]}<br>lost before the next: "
                                       "%{customdata[1]}<extra></extra>"))
    fig.update_layout(**LAYOUT, barmode="group", legend={"orientation": "h"},
                      title=f"Lesson drop-off: {progress.started} started the course, "
                            f"{progress.completed} completed it",
                      xaxis={"type": "category", "automargin": True})
    return as_json(fig)


def lessons_lost(progress: CourseProgress) -> list[tuple[float | None, float | None]]:
    """Per lesson: (share of its starters who did not complete it, share of its
    completers who did not start the next lesson)."""
    out: list[tuple[float | None, float | None]] = []
    lessons = progress.lessons
    for i, lesson in enumerate(lessons):
        within = 1 - lesson.completed / lesson.started if lesson.started else None
        between = None
        if i + 1 < len(lessons) and lesson.completed:
            between = max(0.0, 1 - lessons[i + 1].started / lesson.completed)
        out.append((within, between))
    return out


def share_text(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"
