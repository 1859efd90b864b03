"""Session flow on hand-made sessions, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import insert

from collector.analytics.flow import FlowResult, FlowSpec, node_sessions, session_flow
from collector.analytics.keys import KeyCatalog
from collector.analytics.pathrules import load_cleaners
from collector.analytics.scope import Scope
from collector.storage.engine import get_engine
from collector.storage.models import PathRule, Site
from tests.dashboard.conftest import T0
from tests.factories import lesson_event


def page(uri: str, t: int, sid: str) -> dict[str, Any]:
    return lesson_event("IMPRESSION", sid=sid, actor="a-" + sid, ets=T0 + t,
                        edata={"type": "view", "pageid": uri.strip("/") or "home", "uri": uri})


def click(block: str, t: int, sid: str) -> dict[str, Any]:
    return lesson_event("INTERACT", sid=sid, actor="a-" + sid, ets=T0 + t,
                        edata={"type": "CLICK", "id": block, "pageid": "p"})


def visits(sid: str, *uris: str) -> list[dict[str, Any]]:
    return [page(uri, i * 1000, sid) for i, uri in enumerate(uris)]


def flow(app: Flask, **kw: Any) -> FlowResult:
    with get_engine(app).connect() as conn:
        return session_flow(conn, KeyCatalog().load(conn), load_cleaners(conn),
                            FlowSpec(**kw), keep_sessions=True)


def links(result: FlowResult) -> set[tuple[int, str, str, int]]:
    return set(result.links)


@pytest.fixture
def three(any_app: Flask, store: Callable[..., Any]) -> Flask:
    store(visits("s1", "/a", "/b", "/c") + visits("s2", "/a", "/b", "/d")
          + visits("s3", "/a", "/c"))
    return any_app


def test_paths_from_entry(three: Flask) -> None:
    result = flow(three, depth=3)
    assert result.sessions == 3
    assert result.steps == [[("/a", 3)], [("/b", 2), ("/c", 1)], [("/c", 1), ("/d", 1)]]
    assert links(result) == {(0, "/a", "/b", 2), (0, "/a", "/c", 1), (1, "/b", "/c", 1),
                             (1, "/b", "/d", 1)}


def test_depth_cuts_paths(three: Flask) -> None:
    assert links(flow(three, depth=2)) == {(0, "/a", "/b", 2), (0, "/a", "/c", 1)}


def test_other_bucket_keeps_top_n_per_step(three: Flask) -> None:
    result = flow(three, depth=3, top=1)
    assert result.steps[1] == [("/b", 2), ("Other", 1)]
    assert result.steps[2] == [("/c", 1), ("Other", 1)]
    assert links(result) == {(0, "/a", "/b", 2), (0, "/a", "Other", 1), (1, "/b", "/c", 1),
                             (1, "/b", "Other", 1)}


def test_minimum_link_count_drops_rare_links(three: Flask) -> None:
    assert links(flow(three, depth=3, min_link=2)) == {(0, "/a", "/b", 2)}


def test_start_from_a_page_and_end_at_a_page(three: Flask) -> None:
    assert links(flow(three, depth=3, anchor="from", page="/b")) == {
        (0, "/b", "/c", 1), (0, "/b", "/d", 1)}
    ending = flow(three, depth=3, anchor="to", page="/c")
    assert ending.sessions == 2
    assert links(ending) == {(0, "/a", "/b", 1), (1, "/b", "/c", 1), (1, "/a", "/c", 1)}


def test_repeats_collapse_and_query_strings_are_dropped(
        any_app: Flask, store: Callable[..., Any]) -> None:
    store(visits("s1", "/a?utm=1", "/a#top", "/a", "/b?x=y"))
    assert links(flow(any_app, depth=3)) == {(0, "/a", "/b", 1)}


def test_path_cleaning_rules_merge_pages(any_app: Flask, store: Callable[..., Any]) -> None:
    store(visits("s1", "/home", "/lesson/1", "/lesson/2", "/quiz")
          + visits("s2", "/home", "/lesson/7", "/quiz"))
    before = flow(any_app, depth=3)
    assert (0, "/home", "/lesson/1", 1) in links(before)
    with get_engine(any_app).begin() as conn:
        site_id = conn.execute(Site.__table__.select()).first()[0]  # type: ignore[index]
        conn.execute(insert(PathRule).values(site_id=site_id, pattern=r"/lesson/\d+",
                                             label="/lesson/:id", created_by="t"))
    after = flow(any_app, depth=3)
    # /lesson/1 then /lesson/2 become one step: the rule's label, then /quiz.
    assert links(after) == {(0, "/home", "/lesson/:id", 2), (1, "/lesson/:id", "/quiz", 2)}


def test_interactions_are_optional_steps(any_app: Flask, store: Callable[..., Any]) -> None:
    store([page("/a", 0, "s1"), click("next", 500, "s1"), page("/b", 1000, "s1")])
    assert links(flow(any_app, depth=3)) == {(0, "/a", "/b", 1)}
    assert links(flow(any_app, depth=3, interactions=True)) == {
        (0, "/a", "▸ next", 1), (1, "▸ next", "/b", 1)}


def test_filters_time_and_course(any_app: Flask, store: Callable[..., Any]) -> None:
    store(visits("s1", "/a", "/b")
          + [lesson_event("IMPRESSION", course="geometry", sid="s2", ets=T0,
                          edata={"type": "view", "pageid": "g", "uri": "/g"}),
             lesson_event("IMPRESSION", course="geometry", sid="s2", ets=T0 + 1,
                          edata={"type": "view", "pageid": "h", "uri": "/h"})])
    assert links(flow(any_app, scope=Scope(course="geometry"))) == {(0, "/g", "/h", 1)}
    assert links(flow(any_app, scope=Scope(until_ms=T0 + 500))) == {(0, "/g", "/h", 1)}
    assert flow(any_app, scope=Scope(since_ms=T0 + 500)).sessions == 1


def test_sessions_behind_a_node(three: Flask) -> None:
    result = flow(three, depth=3, top=1)
    assert [sid for _, sid in node_sessions(result, 1, "/b")] == ["s1", "s2"]
    assert [sid for _, sid in node_sessions(result, 1, "Other")] == ["s3"]


@pytest.mark.parametrize(("kw", "message"), [
    ({"depth": 1}, "depth"), ({"depth": 11}, "depth"), ({"anchor": "from"}, "page: required"),
    ({"top": 0}, "top"), ({"anchor": "middle", "page": "/a"}, "anchor"),
])
def test_bad_flow_settings_say_what_is_wrong(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FlowSpec(**kw)
