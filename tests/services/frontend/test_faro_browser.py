"""The page's Faro Web SDK in a real headless Chromium, against the frontend and a gateway double:
what the SDK itself sends arrives at /faro/collect and moves the rum_* metrics (page views, the
thrown error, web vitals, the first chat answer), and a click is one trace with the API calls it
makes: the call carries a traceparent whose parent is the click's span, and the browser's spans, the
frontend's and the gateway's are all in the trace directory under that one trace id.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

from airscope.local.traces import Span, find_spans
from tests.servers import AppServer, movement, scrape
from tests.support import wait_until

FRONTEND = "airscope.services.frontend"
DOUBLE = "tests.services.echo:gateway_double"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


@pytest.fixture
def trace_dir(tmp_path: Path) -> Path:
    return tmp_path / "traces"


@pytest.fixture
def frontend(run_app, trace_dir) -> AppServer:
    env = {"AIRSCOPE_TRACE_DIR": str(trace_dir), "OTEL_BSP_SCHEDULE_DELAY": "100"}
    gateway = run_app(DOUBLE, env)
    return run_app(
        FRONTEND, {**env, "AIRSCOPE_URL_API_GATEWAY": gateway.url, "FRONTEND_FARO_FORWARD_URL": None}
    )


def hide(page: Page) -> None:
    """What switching tabs does: the page becomes hidden, and its visibilitychange listeners run
    (web-vitals reports LCP, CLS and INP then; Faro sends what it holds)."""
    page.evaluate(
        """() => {
            Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
            Object.defineProperty(document, "hidden", {value: true, configurable: true});
            document.dispatchEvent(new Event("visibilitychange", {bubbles: true}));
        }"""
    )


def test_faros_payloads_move_the_metrics_and_a_click_is_one_trace_with_its_api_calls(
    frontend, page, trace_dir
):
    before = scrape(frontend.url)
    sent: dict[str, list[str]] = {}  # path -> the traceparent of each call
    payloads: list[dict] = []
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    def on_request(request) -> None:
        path = request.url.split(frontend.url, 1)[-1]
        if path == "/faro/collect":
            payloads.append(json.loads(request.post_data or "{}"))
        elif path.startswith("/api/"):
            sent.setdefault(path, []).append(request.headers.get("traceparent", ""))

    page.on("request", on_request)
    page.goto(frontend.url + "/#status")
    page.wait_for_selector("#view-status:not([hidden])")
    page.wait_for_function("() => document.querySelector('#status-updated').textContent !== ''")  # it called
    page.evaluate("() => { location.hash = 'signin'; }")
    page.wait_for_selector("#view-signin:not([hidden])")
    page.fill("#signin-email", "ada@example.com")
    page.fill("#signin-password", "correct horse battery")
    page.click("#signin-submit")  # the double answers anything: signed in
    page.wait_for_selector("#view-chat:not([hidden])")
    page.fill("#chat-input", "List the tables in my base")
    page.click("#chat-send")
    page.wait_for_selector("#chat-log li.assistant .trace")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(done))")  # the answer's frame
    page.click("#throw-error")
    page.evaluate("() => { Promise.reject({message: 'rejected on purpose'}); }")  # nobody handles it
    hide(page)

    def browser_reported() -> bool:
        moved = movement(before, scrape(frontend.url))
        assert moved("rum_page_views_total", page="status") == 1
        assert moved("rum_page_views_total", page="signin") == 1
        assert moved("rum_page_views_total", page="chat") == 1
        assert moved("rum_js_errors_total", kind="error", page="chat") == 1
        assert moved("rum_js_errors_total", kind="unhandledrejection", page="chat") == 1
        assert moved("rum_web_vital_seconds_count", name="FCP") == 1
        assert moved("rum_web_vital_seconds_count", name="TTFB") == 1
        assert moved("rum_web_vital_seconds_count", name="LCP") == 1
        assert moved("rum_time_to_first_chat_answer_seconds_count") == 1
        assert moved("rum_beacons_total", outcome="accepted") >= 1
        assert moved("rum_beacons_total", outcome="rejected_malformed") == 0
        return True

    wait_until(browser_reported, timeout=15, interval=0.25, message="the frontend's RUM metrics")
    assert [text for text in console if "Content Security Policy" in text] == []
    assert {payload["meta"]["sdk"]["name"] for payload in payloads} == {"faro-web"}  # the SDK's own payloads

    # Every API call carried a traceparent; the sign-in's is a child of the click's span.
    assert all(TRACEPARENT.fullmatch(tp) for tps in sent.values() for tp in tps), sent
    [login] = sent["/api/auth/login"]
    trace_id, fetch_span_id = TRACEPARENT.fullmatch(login).groups()

    def one_trace() -> list[Span]:
        spans = find_spans(trace_dir, trace_id)
        by_id = {s.span_id: s for s in spans}
        fetch = by_id.get(fetch_span_id)
        assert fetch is not None and fetch.service == "frontend-browser" and fetch.kind == 3, spans
        click = by_id[fetch.parent_span_id]
        assert (
            click.name == "sign in" and click.parent_span_id is None and click.service == "frontend-browser"
        )
        server = [s for s in spans if s.service == "frontend" and s.parent_span_id == fetch_span_id]
        assert server, "no frontend span under the browser's call"
        assert any(s.service == "gateway-double" for s in spans), "the trace did not reach the gateway"
        return spans

    wait_until(one_trace, timeout=15, interval=0.25, message="the click's trace in the trace directory")

    # The chat answer shows the trace id its call was sent with, and its first-answer line names it.
    [chat] = sent["/api/chat"]
    chat_trace = TRACEPARENT.fullmatch(chat).group(1)
    assert page.inner_text("#chat-log li.assistant .trace") == f"trace {chat_trace}"
    errors = {
        r["kind"]: r["error_message"] for r in frontend.log_records() if r.get("event") == "rum js error"
    }
    assert errors == {
        "error": "test error thrown on the chat view",
        "unhandledrejection": "rejected on purpose",
    }
    answers = [r for r in frontend.log_records() if r.get("event") == "rum first chat answer"]
    assert [r["trace_id_client"] for r in answers] == [chat_trace]
