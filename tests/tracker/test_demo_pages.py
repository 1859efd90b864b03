"""The demo course pages: the embed with site ``default``'s key, or how to get one."""

from __future__ import annotations

import pytest
from flask import Flask

from collector.storage.engine import session
from collector.storage.sites import create_site
from collector.web.demo import LESSONS


@pytest.fixture
def default_key(app: Flask) -> str:
    with session(app) as s:
        site = create_site(s, "default", [])
        s.commit()
        return site.write_key


def test_course_and_lessons_embed_the_tracker_with_the_default_key(
        app: Flask, default_key: str) -> None:
    client = app.test_client()
    for url in ["/demo"] + [f"/demo/{lesson.slug}" for lesson in LESSONS]:
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        assert 'src="/tracker.js"' in html and f'data-key="{default_key}"' in html, url
        assert "window.ck=window.ck||function()" in html, url
        assert 'data-course="demo-course"' in html, url


def test_lessons_link_to_each_other(app: Flask, default_key: str) -> None:
    first = app.test_client().get(f"/demo/{LESSONS[0].slug}").get_data(as_text=True)
    assert f'href="/demo/{LESSONS[1].slug}"' in first and 'data-nav="next"' in first
    last = app.test_client().get(f"/demo/{LESSONS[-1].slug}").get_data(as_text=True)
    assert "data-complete-course" in last and 'data-nav="next"' not in last


def test_unknown_lesson_is_404(app: Flask, default_key: str) -> None:
    assert app.test_client().get("/demo/no-such-lesson").status_code == 404


def test_without_default_site_the_page_says_how_to_create_it(app: Flask) -> None:
    resp = app.test_client().get("/demo")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "collector site add default" in html
    assert 'src="/tracker.js"' not in html
