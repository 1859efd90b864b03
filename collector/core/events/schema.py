"""Typed Telemetry V3 envelope: one msgspec Struct per eid, decoded and validated in one pass.

Required fields follow the Telemetry V3 spec (seeds 001/003) and the stock Sunbird
SDK's schemas. Unknown properties are allowed (the received bytes are stored as they
came). Identifiers that become indexed columns have a length bound so a hostile client
cannot bloat indexes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

# Bounded: values the collector stores in indexed columns (mid, actor, session, device,
# correlations, object, edata type/pageid/id, item id) or the uri column. The spec bounds
# no length; every other text is kept whatever its length (``str``).
Id = Annotated[str, Meta(max_length=256)]
Text = Annotated[str, Meta(max_length=4096)]
Number = float  # msgspec's float accepts JSON integers too
Version = str | int | float

EIDS: tuple[str, ...] = (
    "START", "END", "IMPRESSION", "INTERACT", "ASSESS", "RESPONSE", "INTERRUPT",
    "FEEDBACK", "SHARE", "AUDIT", "ERROR", "HEARTBEAT", "LOG", "SEARCH", "METRICS",
    "SUMMARY", "EXDATA",
)  # fmt: skip

EID_DESCRIPTIONS: dict[str, str] = {
    "START": "Start of a multi-step activity (app, session, player, course, lesson, assessment).",
    "END": "End of a workflow started by START.",
    "IMPRESSION": "A visit to a specific page by a user.",
    "INTERACT": "User interaction on a page (click, drag, scroll, choose, ...).",
    "ASSESS": "An assessment item answered during content play.",
    "RESPONSE": "A user response to a poll, calendar event or question.",
    "INTERRUPT": "An interruption of the app (sent to background, call, screen lock).",
    "FEEDBACK": "Feedback (rating and/or comments) given by the user.",
    "SHARE": "Content, a link or a file shared.",
    "AUDIT": "An object changed (life-cycle or property change).",
    "ERROR": "An error faced by the user.",
    "HEARTBEAT": "Heartbeat denoting that the process is running.",
    "LOG": "Generic log event (API call, service call, app update).",
    "SEARCH": "A search was triggered.",
    "METRICS": "Service business metrics.",
    "SUMMARY": "A summary of a session, app or tool use.",
    "EXDATA": "Generic wrapper for external or serialized data; custom named events.",
}


class Actor(Struct, gc=False):
    id: Id
    type: str


class Producer(Struct, gc=False):
    id: str
    ver: Version | None = None
    pid: str | None = None


class Correlation(Struct, gc=False):
    type: Id
    id: Id


class Context(Struct, gc=False):
    channel: str
    env: str
    pdata: Producer | None = None
    sid: Id | None = None
    did: Id | None = None
    cdata: list[Correlation] = []
    rollup: dict[str, Any] | None = None


class EventObject(Struct, gc=False):
    id: Id | None = None
    type: Id | None = None
    ver: Version | None = None
    rollup: dict[str, Any] | None = None


class Envelope(Struct, tag_field="eid", kw_only=True, gc=False):
    """Fields common to every V3 event."""

    ets: int | float
    ver: str
    mid: Id = ""
    actor: Actor
    context: Context
    object: EventObject | None = None
    tags: list[Any] | None = None


# --- edata per eid ----------------------------------------------------------------


class StartData(Struct, gc=False):
    type: Id
    mode: str | None = None
    duration: Number | None = None
    pageid: Id | None = None
    loc: str | None = None
    dspec: dict[str, Any] | None = None
    uaspec: dict[str, Any] | None = None


class EndData(Struct, gc=False):
    type: Id
    mode: str | None = None
    duration: Number | None = None
    pageid: Id | None = None
    summary: list[Any] | None = None


class ImpressionData(Struct, gc=False):
    type: Id
    pageid: Id
    uri: Text
    subtype: str | None = None
    duration: Number | None = None
    visits: list[Any] | None = None


class InteractData(Struct, gc=False):
    type: Id
    id: Id
    subtype: str | None = None
    pageid: Id | None = None
    duration: Number | None = None
    target: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None


class Question(Struct, gc=False):
    id: Id
    maxscore: Number | None = None
    exlength: Number | None = None
    type: str | None = None
    title: str | None = None
    desc: str | None = None
    uri: str | None = None
    params: list[Any] | None = None


class AssessData(Struct, gc=False):
    item: Question
    pass_: Literal["Yes", "No"] = msgspec.field(name="pass")
    score: Number
    resvalues: list[Any]
    duration: Number
    index: int | None = None


class ResponseTarget(Struct, gc=False):
    id: str
    type: str
    ver: Version | None = None


class ResponseData(Struct, gc=False):
    target: ResponseTarget
    type: Id
    values: list[Any]


class InterruptData(Struct, gc=False):
    type: Id
    pageid: Id | None = None


class FeedbackData(Struct, gc=False):
    rating: Number | None = None
    comments: str | None = None
    commentid: str | None = None
    commenttxt: str | None = None


class ShareData(Struct, gc=False):
    items: list[dict[str, Any]]
    dir: str | None = None
    type: Id | None = None


class AuditData(Struct, gc=False):
    props: list[Any] | None = None
    state: str | None = None
    prevstate: str | None = None
    type: Id | None = None


class ErrorData(Struct, gc=False):
    err: str
    errtype: str
    stacktrace: str
    pageid: Id | None = None
    object: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None


class LogData(Struct, gc=False):
    type: Id
    level: str
    message: str
    pageid: Id | None = None
    params: list[Any] | None = None


class SearchData(Struct, gc=False):
    query: str
    size: int
    topn: list[Any]
    type: Id | None = None
    filters: dict[str, Any] | None = None
    sort: dict[str, Any] | Any = None
    correlationid: str | None = None


class SummaryData(Struct, gc=False):
    type: Id
    starttime: int | float
    endtime: int | float
    timespent: Number
    pageviews: int
    interactions: int
    mode: str | None = None


class ExdataData(Struct, gc=False):
    type: Id | None = None
    data: Any = None
    version: int | None = None


# --- one Struct per eid -------------------------------------------------------------


class Start(Envelope, tag="START"):
    edata: StartData


class End(Envelope, tag="END"):
    edata: EndData


class Impression(Envelope, tag="IMPRESSION"):
    edata: ImpressionData


class Interact(Envelope, tag="INTERACT"):
    edata: InteractData


class Assess(Envelope, tag="ASSESS"):
    edata: AssessData


class Response(Envelope, tag="RESPONSE"):
    edata: ResponseData


class Interrupt(Envelope, tag="INTERRUPT"):
    edata: InterruptData


class Feedback(Envelope, tag="FEEDBACK"):
    edata: FeedbackData | None = None


class Share(Envelope, tag="SHARE"):
    edata: ShareData


class Audit(Envelope, tag="AUDIT"):
    edata: AuditData | None = None


class Error(Envelope, tag="ERROR"):
    edata: ErrorData


class Heartbeat(Envelope, tag="HEARTBEAT"):
    edata: dict[str, Any] | None = None


class Log(Envelope, tag="LOG"):
    edata: LogData


class Search(Envelope, tag="SEARCH"):
    edata: SearchData


class Metrics(Envelope, tag="METRICS"):
    edata: dict[str, Any] | None = None


class Summary(Envelope, tag="SUMMARY"):
    edata: SummaryData


class Exdata(Envelope, tag="EXDATA"):
    edata: ExdataData | None = None


Event = (
    Start | End | Impression | Interact | Assess | Response | Interrupt | Feedback | Share
    | Audit | Error | Heartbeat | Log | Search | Metrics | Summary | Exdata
)  # fmt: skip

EVENT_TYPES: dict[str, type[Envelope]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
        Start, End, Impression, Interact, Assess, Response, Interrupt, Feedback, Share,
        Audit, Error, Heartbeat, Log, Search, Metrics, Summary, Exdata,
    )  # fmt: skip
}
