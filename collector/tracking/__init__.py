"""Python tracking API, after the edX event-tracking design.

::

    from collector import tracking

    tracking.register("org.video.paused", "A learner paused a video",
                      {"video_id": "The video", "position": "Seconds into the video"})
    with tracking.context("request", {"actor_id": "learner-7", "course_id": "algebra"}):
        tracking.emit("org.video.paused", {"video_id": "v1", "position": 12.5})

The tracker itself is :mod:`collector.tracking.tracker`; the event registry
:mod:`collector.tracking.registry`; the database backend
:mod:`collector.tracking.backend`; the collector's own audit events
:mod:`collector.tracking.audit`.
"""

from collector.tracking.tracker import (
    DropEvent,
    Tracker,
    context,
    emit,
    enter_context,
    exit_context,
    get_tracker,
    register,
)

__all__ = ["DropEvent", "Tracker", "context", "emit", "enter_context", "exit_context",
           "get_tracker", "register"]
