"""SQLAlchemy 2 typed models. Schema changes go through Alembic (``migrations/``)."""

from __future__ import annotations

import time
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer, "sqlite")
IdStr = String(256)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Site(Base):
    """A source of events: one public write key and the origins allowed to use it."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    write_key: Mapped[str] = mapped_column(String(64), unique=True)
    origins: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of origins
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class User(Base):
    """A dashboard / export user."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    # Sessions carry the generation they were issued under; bumping it (logout, new
    # password) revokes every session of the user.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # An administrator reads and changes every site; anyone else only the sites of their
    # UserSite rows, with that row's role.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


ROLES = ("viewer", "editor")  # per site; "admin" is User.is_admin


class UserSite(Base):
    """A non-administrator's role on one site: ``viewer`` reads, ``editor`` also changes
    its path rules and saved funnels."""

    __tablename__ = "user_sites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    role: Mapped[str] = mapped_column(String(16))


class Event(Base):
    """A stored V3 event: the bytes received plus the columns dashboards query."""

    __tablename__ = "events"
    __table_args__ = (
        # mid is the idempotency key within a site: another site's mids never collide.
        UniqueConstraint("site_id", "mid", name="uq_events_site_mid"),
        Index("ix_events_site_id_ets", "site_id", "ets"),
        Index("ix_events_sid", "sid"),
        Index("ix_events_site_id_actor_id", "site_id", "actor_id"),  # a learner's events
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mid: Mapped[str] = mapped_column(IdStr)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    eid: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(IdStr)  # eid, or the dotted name of a custom EXDATA
    ets: Mapped[int] = mapped_column(BigInteger)  # client time, ms
    received_at: Mapped[int] = mapped_column(BigInteger)  # server time, ms
    sid: Mapped[str | None] = mapped_column(IdStr)
    chain_id: Mapped[str | None] = mapped_column(IdStr)  # root sid of the session chain
    actor_id: Mapped[str] = mapped_column(IdStr)
    did: Mapped[str | None] = mapped_column(IdStr)
    course_id: Mapped[str | None] = mapped_column(IdStr)
    lesson_id: Mapped[str | None] = mapped_column(IdStr)
    page_id: Mapped[str | None] = mapped_column(IdStr)
    uri: Mapped[str | None] = mapped_column(String(4096))
    object_id: Mapped[str | None] = mapped_column(IdStr)
    object_type: Mapped[str | None] = mapped_column(IdStr)
    edata_type: Mapped[str | None] = mapped_column(IdStr)
    duplicate_of: Mapped[str | None] = mapped_column(IdStr)  # mid of the canonical course start
    warnings: Mapped[str | None] = mapped_column(Text)  # JSON list
    payload: Mapped[str] = mapped_column(Text)  # the event JSON as received


class RejectedEvent(Base):
    """Quarantine: an event (or unusable body) that was not stored, with its reasons."""

    __tablename__ = "rejected_events"
    __table_args__ = (Index("ix_rejected_events_site_id_received_at", "site_id", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    transport: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[int] = mapped_column(BigInteger)
    batch_index: Mapped[int | None] = mapped_column(Integer)  # None: the whole body
    mid: Mapped[str | None] = mapped_column(IdStr)
    reasons: Mapped[str] = mapped_column(Text)  # JSON list of messages
    payload: Mapped[str] = mapped_column(Text)


class SessionLink(Base):
    """Every sid seen, with the root sid of its chain (linked by ``PreviousSession``)."""

    __tablename__ = "session_links"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    sid: Mapped[str] = mapped_column(IdStr, primary_key=True)
    root_sid: Mapped[str] = mapped_column(IdStr)
    first_seen: Mapped[int] = mapped_column(BigInteger)


class CourseStart(Base):
    """The canonical course START per (actor, course, session chain)."""

    __tablename__ = "course_starts"
    __table_args__ = (
        UniqueConstraint("site_id", "actor_id", "course_id", "chain_id",
                         name="uq_course_starts_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    actor_id: Mapped[str] = mapped_column(IdStr)
    course_id: Mapped[str] = mapped_column(IdStr)
    chain_id: Mapped[str] = mapped_column(IdStr)  # "" for events without a session
    mid: Mapped[str] = mapped_column(IdStr)
    ets: Mapped[int] = mapped_column(BigInteger)


class DuplicateReceipt(Base):
    """An event received again with a mid already stored (counted, not stored twice)."""

    __tablename__ = "duplicate_receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    mid: Mapped[str] = mapped_column(IdStr)
    transport: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[int] = mapped_column(BigInteger)


# --- xAPI / Caliper forwarding: outbox filled at ingest, drained by forwarders ---


class OutboxEntry(Base):
    """A stored event to forward to the LRS (target ``xapi``) or Caliper endpoint (``caliper``).

    Rows are written in the ingest transaction and deleted once the receiver acknowledged
    them, so a row exists exactly as long as its event still has to be sent.
    """

    __tablename__ = "outbox"
    # The claim query: due rows of one target, not refused, in id order.
    __table_args__ = (Index("ix_outbox_target_failed_id", "target", "failed", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))  # with mid: the event
    mid: Mapped[str] = mapped_column(IdStr)  # events.mid
    created_at: Mapped[int] = mapped_column(BigInteger)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, default=0)  # ms; backoff
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[int] = mapped_column(BigInteger, default=0)  # ms; claimed until
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    failed: Mapped[bool] = mapped_column(Boolean, default=False)  # refused for good
    last_error: Mapped[str | None] = mapped_column(Text)


class ForwardState(Base):
    """Running totals and the last outcome of one forwarding target."""

    __tablename__ = "forward_state"

    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    unmapped: Mapped[int] = mapped_column(BigInteger, default=0)
    last_sent_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[int | None] = mapped_column(BigInteger)


# --- registry: registered event types and what has been seen per name ---------


class EventType(Base):
    """One registered version of a named event type of one site (edX event-tracking
    metadata). Registrations are per site: a write key documents its own site only."""

    __tablename__ = "event_types"
    __table_args__ = (UniqueConstraint("site_id", "name", "version",
                                       name="uq_event_types_site_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    name: Mapped[str] = mapped_column(IdStr)
    version: Mapped[int] = mapped_column(Integer)
    schema_id: Mapped[str] = mapped_column(String(300))  # "<name>/v<version>"
    description: Mapped[str] = mapped_column(Text)
    fields: Mapped[str] = mapped_column(Text)  # JSON object: field name -> description
    source: Mapped[str] = mapped_column(String(16))  # "python" or "browser"
    registered_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class EventName(Base):
    """Every event name stored so far per site (eid or custom name) with counts, kept at
    ingest."""

    __tablename__ = "event_names"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    name: Mapped[str] = mapped_column(IdStr, primary_key=True)
    eid: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(BigInteger)
    first_seen: Mapped[int] = mapped_column(BigInteger)  # server time, ms
    last_seen: Mapped[int] = mapped_column(BigInteger)
    warned: Mapped[int] = mapped_column(BigInteger, default=0)  # events stored with warnings
    last_warnings: Mapped[str | None] = mapped_column(Text)  # JSON list, latest warned event
    example: Mapped[str | None] = mapped_column(Text)  # payload of an early event (<= 8 KB)


# --- dashboard: derived tables maintained at ingest, saved rules and funnels ---


class DashKey(Base):
    """An interned event shape: what funnel steps and flow nodes match on.

    ``target`` is the page (IMPRESSION uri without query) or the INTERACT ``edata.id``.
    Empty strings stand for "absent" so the fingerprint stays unique across databases.
    """

    __tablename__ = "dash_keys"
    __table_args__ = (UniqueConstraint("site_id", "fingerprint", name="uq_dash_keys_fp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    fingerprint: Mapped[str] = mapped_column(String(40))  # sha1 of the fields below
    eid: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(IdStr)
    course_id: Mapped[str] = mapped_column(IdStr)
    page_id: Mapped[str] = mapped_column(IdStr)
    object_type: Mapped[str] = mapped_column(IdStr)
    edata_type: Mapped[str] = mapped_column(IdStr)
    target: Mapped[str] = mapped_column(String(512))


class DashSession(Base):
    """One (session chain, learner): counters and the timeline of (key, ets) tokens.

    ``timeline`` holds little-endian uint32 triples (key id, ets low, ets high), appended
    at ingest; ``in_order`` stays 1 while every appended chunk came after the
    previous one in client time, so readers only sort the rare out-of-order sessions.
    """

    __tablename__ = "dash_sessions"
    __table_args__ = (
        Index("ix_dash_sessions_site_id_last_received", "site_id", "last_received"),
        Index("ix_dash_sessions_site_id_first_ets", "site_id", "first_ets"),
    )

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    session_id: Mapped[str] = mapped_column(IdStr, primary_key=True)  # chain root; "" = none
    actor_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    course_id: Mapped[str | None] = mapped_column(IdStr)  # first course seen
    env: Mapped[str | None] = mapped_column(String(100))  # first context.env seen
    first_ets: Mapped[int] = mapped_column(BigInteger)
    last_ets: Mapped[int] = mapped_column(BigInteger)
    last_received: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(Integer)
    dup_starts: Mapped[int] = mapped_column(Integer)
    in_order: Mapped[int] = mapped_column(Integer)
    timeline: Mapped[bytes] = mapped_column(LargeBinary)  # last: list queries skip it


class DashMinute(Base):
    """Per site and server-time minute: stored, course starts (canonical), ends, rejected."""

    __tablename__ = "dash_minutes"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # received_at // 60000
    events: Mapped[int] = mapped_column(Integer)
    course_starts: Mapped[int] = mapped_column(Integer)
    course_ends: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)


class DashKeyHour(Base):
    """Events per key and server-time hour (top pages, counts per event shape)."""

    __tablename__ = "dash_key_hours"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # received_at // 3600000
    key_id: Mapped[int] = mapped_column(ForeignKey("dash_keys.id"), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class DashRejectReason(Base):
    """Rejected events per reason and server-time hour (a message is cut at 300 chars)."""

    __tablename__ = "dash_reject_reasons"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reason: Mapped[str] = mapped_column(String(300), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class DashWarning(Base):
    """Events stored with a warning, per site, server-time hour and kind of warning.

    ``warning`` is the message with its per-event details left out (see
    ``collector.analytics.event_warnings.warning_kind``); ``example_mid`` is the latest such
    event, so a page can show what a client actually sent.
    """

    __tablename__ = "dash_warnings"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    warning: Mapped[str] = mapped_column(String(300), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    example_mid: Mapped[str] = mapped_column(String(256))


class PathRule(Base):
    """A saved path-cleaning rule of a site: labels matching ``pattern`` become ``label``."""

    __tablename__ = "dash_path_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    pattern: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)


class SavedFunnel(Base):
    """A saved funnel: its name and the query string that defines it (shareable URL)."""

    __tablename__ = "dash_funnels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_ms)


# --- learning analytics: compact per-learner tables kept at ingest -----------------


class LearnAttempt(Base):
    """A learner's first attempt (smallest ``ets``, then ``mid``) at one quiz item of a
    course, with the count of every stored attempt. Items are keyed per course."""

    __tablename__ = "learn_attempts"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    actor_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    item_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    ets: Mapped[int] = mapped_column(BigInteger)  # of the first attempt
    mid: Mapped[str] = mapped_column(IdStr)
    lesson_id: Mapped[str | None] = mapped_column(IdStr)
    score: Mapped[float | None] = mapped_column(Float)
    maxscore: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[int | None] = mapped_column(Integer)  # edata.pass: 1 Yes, 0 No
    duration: Mapped[float | None] = mapped_column(Float)  # seconds
    response: Mapped[str | None] = mapped_column(String(256))  # resvalues as text
    attempts: Mapped[int] = mapped_column(Integer)  # every stored ASSESS of the pair
    unscored: Mapped[int] = mapped_column(Integer)  # of them without a usable maxscore


class LearnProgress(Base):
    """One learner in one course: first/last event, course start and end, active time,
    and what the learner table shows (score, lessons completed, failed first attempts).

    Active time adds the gap between consecutive events of the same session chain,
    capped at an idle threshold; an event older than the newest one already counted
    adds nothing (its neighbours are no longer known).
    """

    __tablename__ = "learn_progress"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    actor_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    first_ets: Mapped[int] = mapped_column(BigInteger)
    last_ets: Mapped[int] = mapped_column(BigInteger)
    started_ets: Mapped[int | None] = mapped_column(BigInteger)  # first course START
    completed_ets: Mapped[int | None] = mapped_column(BigInteger)  # first course END
    active_ms: Mapped[int] = mapped_column(BigInteger)
    last_chain: Mapped[str] = mapped_column(IdStr)  # session chain of the event at last_ets
    events: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)  # sum of first-attempt fractions
    lessons_completed: Mapped[int] = mapped_column(Integer)
    fail_streak: Mapped[int] = mapped_column(Integer)  # latest first attempts failed in a row


class LearnLesson(Base):
    """One learner in one lesson of a course: first event, first START and END."""

    __tablename__ = "learn_lessons"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    actor_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    lesson_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    first_ets: Mapped[int] = mapped_column(BigInteger)
    started_ets: Mapped[int | None] = mapped_column(BigInteger)
    completed_ets: Mapped[int | None] = mapped_column(BigInteger)
    duration: Mapped[float | None] = mapped_column(Float)  # edata.duration of that END


class LearnCourse(Base):
    """Per course: learner counts, kept by adding each learner's change at ingest."""

    __tablename__ = "learn_courses"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    learners: Mapped[int] = mapped_column(Integer)
    started: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    finished: Mapped[int] = mapped_column(Integer)  # started and completed
    last_ets: Mapped[int] = mapped_column(BigInteger)


class LearnLessonStats(Base):
    """Per lesson of a course: learners, starts, completions, first event time."""

    __tablename__ = "learn_lesson_stats"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    lesson_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    learners: Mapped[int] = mapped_column(Integer)
    started: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    first_ets: Mapped[int] = mapped_column(BigInteger)


class LearnItem(Base):
    """Per quiz item of a course: counts and the sums Pearson's r needs, over first
    attempts with a fraction x and the learner's rest-of-course score y."""

    __tablename__ = "learn_items"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    item_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    learners: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    unscored: Mapped[int] = mapped_column(Integer)
    out_of_range: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    sx: Mapped[float] = mapped_column(Float)
    sy: Mapped[float] = mapped_column(Float)
    sxx: Mapped[float] = mapped_column(Float)
    syy: Mapped[float] = mapped_column(Float)
    sxy: Mapped[float] = mapped_column(Float)
    first_ets: Mapped[int] = mapped_column(BigInteger)


class LearnAnswer(Base):
    """First-attempt responses per item of a course ("" when none was sent)."""

    __tablename__ = "learn_answers"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    item_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    response: Mapped[str] = mapped_column(String(256), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class LearnDuration(Base):
    """How many learners took each number of seconds: ``kind`` "course" (time to
    complete, key ""), "lesson" (key: lesson id) or "item" (key: item id). Exact medians
    come from these counts without reading one row per learner."""

    __tablename__ = "learn_durations"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    course_id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(IdStr, primary_key=True)
    seconds: Mapped[float] = mapped_column(Float, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


# --- the tables, typed for Core statements (bulk inserts, upserts, selects) ---------


def _table(model: type[Base]) -> Table:
    # Declarative types __table__ as FromClause; a mapped class's is always a Table.
    return cast(Table, model.__table__)


SITES = _table(Site)
EVENTS = _table(Event)
REJECTED_EVENTS = _table(RejectedEvent)
SESSION_LINKS = _table(SessionLink)
COURSE_STARTS = _table(CourseStart)
DUPLICATE_RECEIPTS = _table(DuplicateReceipt)
OUTBOX = _table(OutboxEntry)
FORWARD_STATE = _table(ForwardState)
EVENT_TYPES = _table(EventType)
EVENT_NAMES = _table(EventName)
DASH_KEYS = _table(DashKey)
DASH_SESSIONS = _table(DashSession)
DASH_MINUTES = _table(DashMinute)
DASH_KEY_HOURS = _table(DashKeyHour)
DASH_REJECT_REASONS = _table(DashRejectReason)
DASH_WARNINGS = _table(DashWarning)
LEARN_ATTEMPTS = _table(LearnAttempt)
LEARN_PROGRESS = _table(LearnProgress)
LEARN_LESSONS = _table(LearnLesson)
LEARN_COURSES = _table(LearnCourse)
LEARN_LESSON_STATS = _table(LearnLessonStats)
LEARN_ITEMS = _table(LearnItem)
LEARN_ANSWERS = _table(LearnAnswer)
LEARN_DURATIONS = _table(LearnDuration)
