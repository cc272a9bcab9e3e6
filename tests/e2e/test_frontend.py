"""The UI in a real headless Chromium, on the platform `airscope up` starts (tests/e2e/conftest.py).

A user registers, signs in and asks the chat for the base's tables; then the page throws an error
and is hidden. The frontend's /metrics and log must show what the page's Faro Web SDK sent to
/faro/collect (page views, the error, web vitals, the time to the first chat answer), and the chat
is one trace from the click to the api-gateway: the browser's click span and fetch span (written
beside the services' span files), the frontend's, the gateway's.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page

from airscope.local.traces import find_spans
from tests.servers import movement, scrape
from tests.support import wait_until

pytestmark = pytest.mark.infra

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


def hide(page: Page) -> None:
    """What switching tabs does: the page becomes hidden, and its visibilitychange listeners run."""
    page.evaluate(
        """() => {
            Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
            Object.defineProperty(document, "hidden", {value: true, configurable: true});
            document.dispatchEvent(new Event("visibilitychange", {bubbles: true}));
        }"""
    )


def test_a_user_signs_in_chats_and_the_browser_reports_what_it_saw(platform, page):
    frontend, home = platform["frontend"], platform.home
    before = scrape(frontend)
    chat_traceparents: list[str] = []
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on(
        "request",
        lambda request: (
            chat_traceparents.append(request.headers.get("traceparent", ""))
            if request.url.endswith("/api/chat")
            else None
        ),
    )

    page.goto(frontend + "/")
    page.wait_for_selector("#view-signin:not([hidden])")
    page.fill("#signin-email", f"ada-{uuid.uuid4().hex[:8]}@example.com")
    page.fill("#signin-password", "correct horse battery")
    page.fill("#signin-name", "Ada")
    page.click("#register-submit")
    try:
        page.wait_for_selector("#view-chat:not([hidden])", timeout=20_000)
    except Exception:
        pytest.fail(f"sign-in did not reach the chat: {page.inner_text('#signin-message')!r}")

    page.fill("#chat-input", "List the tables in my base")
    page.click("#chat-send")
    page.wait_for_selector("#chat-log li.assistant .trace", timeout=60_000)
    answer = page.inner_text("#chat-log li.assistant")
    for table in ("Customers", "Orders", "Products"):
        assert table in answer
    assert "list_tables" in answer  # the tool calls are shown

    # Everything above ran under the frontend's Content-Security-Policy without one violation.
    assert [text for text in console if "Content Security Policy" in text] == []

    page.click("#throw-error")
    # The first chat answer is measured in the frame after the answer was painted: one frame more.
    page.evaluate("() => new Promise((done) => requestAnimationFrame(done))")
    hide(page)

    def browser_reported() -> bool:
        moved = movement(before, scrape(frontend))
        assert moved("rum_page_views_total", page="signin") >= 1
        assert moved("rum_page_views_total", page="chat") >= 1
        assert moved("rum_js_errors_total", kind="error", page="chat") == 1
        assert moved("rum_web_vital_seconds_count", name="FCP") >= 1
        assert moved("rum_web_vital_seconds_count", name="TTFB") >= 1
        assert moved("rum_time_to_first_chat_answer_seconds_count") == 1
        assert moved("rum_beacons_total", outcome="accepted") >= 1
        assert moved("rum_beacons_total", outcome="rejected_malformed") == 0
        return True

    wait_until(browser_reported, timeout=15, interval=0.25, message="the frontend's RUM metrics")

    log = (home / "log" / "frontend.log").read_text()
    for line in (
        "rum page view",
        "rum web vital",
        "rum first chat answer",
        "test error thrown on the chat view",
    ):
        assert line in log, f"no {line!r} in the frontend's log"

    # The chat's trace, started by the click in the page, crossed the frontend into the gateway.
    [traceparent] = chat_traceparents
    trace_id, fetch_span_id = TRACEPARENT.fullmatch(traceparent).groups()

    def trace_reached_the_gateway() -> bool:
        spans = find_spans(home / "traces", trace_id)
        by_id = {s.span_id: s for s in spans}
        assert any(s.service == "api-gateway" for s in spans), "no api-gateway span"
        frontend_server = [s for s in spans if s.service == "frontend"]
        assert any(s.parent_span_id == fetch_span_id for s in frontend_server), "no frontend span"
        fetch = by_id.get(fetch_span_id)
        assert fetch is not None and fetch.service == "frontend-browser", "no browser span"
        assert by_id[fetch.parent_span_id].name == "send chat message", "the call is not the click's"
        return True

    wait_until(trace_reached_the_gateway, timeout=20, interval=0.25, message="the chat's trace")
    assert f'"trace_id_client":"{trace_id}"' in log.replace(" ", "")  # the first answer's RUM line
