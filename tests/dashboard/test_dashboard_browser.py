"""The dashboards in Debian chromium (Playwright): live updates without reload, escaping.

Screenshots go to ``test-artifacts/`` (gitignored), kept after the run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import LiveServer
from tests.factories import course_start, lesson_event

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
XSS = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"


@pytest.fixture
def page(dashboard_page: Any) -> Any:
    return dashboard_page


def send(server: LiveServer, events: list[dict[str, Any]]) -> float:
    """Ingest over the WebSocket API; returns when the ack arrived."""
    with connect(f"{server.ws_url}/v1/ws?key={server.key}", open_timeout=5) as ws:
        ws.send(json.dumps({"id": "b1", "events": events}))
        ack = json.loads(ws.recv(timeout=10))
        assert ack["accepted"] == len(events), ack
        return time.monotonic()


def views(sid: str, *uris: str, t0: int = 1_763_000_000_000) -> list[dict[str, Any]]:
    return [lesson_event("IMPRESSION", sid=sid, actor="a-" + sid, ets=t0 + i * 1000,
                         edata={"type": "view", "pageid": uri.strip("/"), "uri": uri})
            for i, uri in enumerate(uris)]


def open_live(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#live-status.on", timeout=5000)
    page.evaluate("window.__sameDocument = true")


def updated_within_a_second(page: Any, acked: float, condition: str) -> float:
    page.wait_for_function(condition, timeout=1000)
    elapsed = time.monotonic() - acked
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    return elapsed


def test_flow_chart_updates_live(page: Any, live_server: LiveServer) -> None:
    send(live_server, views("s1", "/home", "/lesson/1"))
    open_live(page, live_server.url + "/dashboard/flow")
    page.wait_for_selector("#chart-flow .sankey-node")
    assert "/lesson/1" in page.inner_text("#chart-flow")
    acked = send(live_server, views("s2", "/home", "/brand-new-page"))
    elapsed = updated_within_a_second(
        page, acked, "document.querySelector('#chart-flow').textContent"
                     ".includes('/brand-new-page')")
    assert elapsed < 1.0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-flow.png"), full_page=True)
    # A click on a node lists the sessions behind it.
    page.locator("#chart-flow .sankey-node").filter(has_text="/brand-new-page").first.click()
    page.wait_for_selector("#node-sessions a")
    assert page.inner_text("#node-sessions").strip().endswith("s2")


def test_funnel_updates_live(page: Any, live_server: LiveServer) -> None:
    send(live_server, [course_start(sid="s1", actor="a-s1", ets=1_763_000_000_000)])
    open_live(page, live_server.url + "/dashboard/funnel?step=START+edata.type%3Dcourse"
                    "&step=IMPRESSION+pageid%3Dquiz")
    page.wait_for_selector("#chart-funnel .main-svg")
    counts = "[...document.querySelectorAll('#funnel-steps tr')].map(r => r.cells[2].textContent)"
    assert page.evaluate(counts) == ["1", "0"]
    acked = send(live_server, views("s1", "/quiz", t0=1_763_000_005_000))
    elapsed = updated_within_a_second(page, acked, counts + ".join() === '1,1'")
    assert elapsed < 1.0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-funnel.png"), full_page=True)


def test_script_in_event_fields_renders_as_text(page: Any, live_server: LiveServer) -> None:
    evil = [lesson_event("IMPRESSION", sid="s9", actor=XSS, ets=1_763_000_000_000 + i,
                         edata={"type": "view", "pageid": XSS, "uri": uri})
            for i, uri in enumerate([XSS, "/after"])]
    open_live(page, live_server.url + "/dashboard")
    acked = send(live_server, evil)
    updated_within_a_second(page, acked,
                            "document.querySelector('#tail').textContent.includes('onerror')")
    assert XSS in page.inner_text("#tail")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)
    page.goto(live_server.url + "/dashboard/flow")
    page.wait_for_selector("#chart-flow .sankey-node")
    assert XSS in page.inner_text("#chart-flow")
    page.goto(live_server.url + "/dashboard/sessions/s9")
    page.wait_for_selector("#timeline pre")
    assert XSS in page.inner_text("#timeline")
    assert page.evaluate("window.__xss") is None
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-escaping.png"), full_page=True)


# Keeps every WebSocket the page opens, so a test can close one and count reconnects.
RECORD_SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
  window.__sockets.push(ws);
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""


def test_live_updates_stop_once_the_session_ended(page: Any, live_server: LiveServer) -> None:
    page.add_init_script(RECORD_SOCKETS)
    page.clock.install()
    open_live(page, live_server.url + "/dashboard")

    # A dropped socket while logged in: the page reconnects.
    page.evaluate("window.__sockets[0].close()")
    page.wait_for_function("window.__sockets.length === 2", timeout=5000)
    page.clock.run_for(1000)
    page.wait_for_selector("#live-status.on", timeout=5000)

    # Logged out elsewhere (the session cookie is gone), then the socket drops.
    page.context.clear_cookies()
    page.evaluate("window.__sockets[1].close()")
    page.wait_for_selector("#live-status.ended", timeout=5000)
    assert "log in" in page.inner_text("#live-status")
    page.clock.run_for(120_000)  # every reconnect the old backoff would have made
    assert page.evaluate("window.__sockets.length") == 2, "it kept reconnecting"
    assert page.get_attribute("#live-status a", "href") == "/login?next=%2Fdashboard"
