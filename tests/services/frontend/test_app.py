"""The frontend as a subprocess: the page's files with the right types and headers, and /api/*
forwarded to a gateway double (method, path, query, body, headers, trace context, failures)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import airscope
from airscope.local.traces import Span, read_spans
from tests.servers import AppServer
from tests.support import wait_until

FRONTEND = "airscope.services.frontend"
DOUBLE = "tests.services.echo:gateway_double"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces")


@pytest.fixture(scope="module")
def gateway(module_apps, trace_dir) -> AppServer:
    env = {"AIRSCOPE_TRACE_DIR": str(trace_dir), "OTEL_BSP_SCHEDULE_DELAY": "100"}
    return module_apps.start(DOUBLE, env)


@pytest.fixture(scope="module")
def frontend(module_apps, trace_dir, gateway, free_port) -> AppServer:
    env = {
        "AIRSCOPE_URL_API_GATEWAY": gateway.url,
        "FRONTEND_GATEWAY_TIMEOUT_SECONDS": "0.5",
        "AIRSCOPE_TRACE_DIR": str(trace_dir),
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    return module_apps.start(FRONTEND, env)


# --- the page's files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/", "text/html; charset=utf-8", 'src="/static/app.js"'),
        ("/static/app.js", "text/javascript; charset=utf-8", "traceparent"),
        ("/static/monitoring.js", "text/javascript; charset=utf-8", "/faro/collect"),
        ("/static/style.css", "text/css; charset=utf-8", ".chat-log"),
        ("/static/vendor/faro-web-sdk.iife.js", "text/javascript; charset=utf-8", "GrafanaFaroWebSdk"),
        (
            "/static/vendor/faro-web-tracing.iife.js",
            "text/javascript; charset=utf-8",
            "GrafanaFaroWebTracing",
        ),
    ],
)
def test_the_page_and_its_files_are_served_with_their_content_types(frontend, path, content_type, marker):
    answer = httpx.get(frontend.url + path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert marker in answer.text
    assert answer.headers["cache-control"] == "no-cache"


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: sources}."""
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/static/app.js"),
        ("GET", "/static/nothing.js"),  # an error
        ("GET", "/api/chat/sessions/s-1"),  # the gateway's answer, passed on
        ("POST", "/faro/collect"),
        ("GET", "/health"),  # the telemetry kit's own
    ],
)
def test_every_answer_carries_the_security_headers(frontend, method, path):
    headers = httpx.request(method, frontend.url + path).headers
    csp = policy(headers["content-security-policy"])
    # Only the page's own files: no inline script or style, no eval, no plugin, no other origin.
    for directive in ("default-src", "script-src", "style-src", "connect-src"):
        assert csp[directive] == ["'self'"], directive
    assert csp["object-src"] == csp["frame-ancestors"] == csp["base-uri"] == ["'none'"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    permissions = dict(rule.strip().split("=") for rule in headers["permissions-policy"].split(","))
    assert permissions["camera"] == permissions["microphone"] == permissions["geolocation"] == "()"


def test_the_page_names_its_version_and_loads_faro_before_the_monitoring_and_the_app(frontend):
    page = httpx.get(frontend.url + "/").text
    assert f'<meta name="airscope-version" content="{airscope.__version__}">' in page
    scripts = [line.split('src="')[1].split('"')[0] for line in page.splitlines() if "<script" in line]
    assert scripts == [
        "/static/vendor/faro-web-sdk.iife.js",
        "/static/vendor/faro-web-tracing.iife.js",
        "/static/monitoring.js",
        "/static/app.js",
    ]


def test_the_vendored_faro_keeps_its_licence(frontend):
    licence = httpx.get(frontend.url + "/static/vendor/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text


@pytest.mark.parametrize("path", ["/static/nothing.js", "/static/../app.py", "/static/%2e%2e/config.py"])
def test_files_outside_the_static_directory_are_not_found(frontend, path):
    answer = httpx.get(frontend.url + path)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


# --- the proxy -----------------------------------------------------------------------------------


def received(answer: httpx.Response) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, header_value in answer.json()["headers"]:
        headers.setdefault(name, []).append(header_value)
    return headers


def test_api_calls_reach_the_gateway_with_method_path_query_body_and_credentials(frontend):
    answer = httpx.patch(
        frontend.url + "/api/airtable/bases/app1/tables/My%2FTable/records/rec1?typecast=true&x=1",
        content=b'{"fields": {"Name": "Ada"}}',
        headers={
            "Authorization": "Bearer a.b.c",
            "Content-Type": "application/json",
            "X-Request-Id": "from-the-page",
            "Keep-Alive": "timeout=5",
        },
    )
    assert answer.status_code == 200, answer.text
    echoed = answer.json()
    assert echoed["method"] == "PATCH"
    assert echoed["path"] == "/api/airtable/bases/app1/tables/My%2FTable/records/rec1"
    assert echoed["query"] == "typecast=true&x=1"
    assert echoed["body"] == '{"fields": {"Name": "Ada"}}'
    headers = received(answer)
    assert headers["authorization"] == ["Bearer a.b.c"]
    assert headers["content-type"] == ["application/json"]
    assert "keep-alive" not in headers
    # The kit's request id for this hop (the page's, since it was well formed), once.
    assert headers["x-request-id"] == ["from-the-page"]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]


def test_a_multipart_upload_arrives_intact(frontend):
    answer = httpx.post(
        frontend.url + "/api/automation/files",
        files={"file": ("people.csv", b"Name,Email\nAda,ada@example.com\n", "text/csv")},
        data={"base_id": "appAirscopeDemo01", "table": "Customers"},
    )
    assert answer.status_code == 200
    body = answer.json()["body"]
    assert 'name="table"\r\n\r\nCustomers' in body
    assert "Ada,ada@example.com" in body


def test_the_pages_traceparent_is_continued_to_the_gateway(frontend, gateway, trace_dir):
    answer = httpx.get(frontend.url + "/api/chat/sessions/s-1", headers={"traceparent": TRACEPARENT})
    assert answer.headers["x-trace-id"] == TRACE_ID
    [sent] = received(answer)["traceparent"]
    version, trace_id, parent_id, flags = sent.split("-")
    # Same trace, but the parent is this hop's client span, not the page's span.
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert parent_id != "00f067aa0ba902b7"

    def both_hops() -> list[Span]:
        spans = [s for s in read_spans(trace_dir) if s.trace_id == TRACE_ID]
        assert {"frontend", "gateway-double"} <= {s.service for s in spans}, spans
        return spans

    spans = wait_until(both_hops, 10, message="the spans of both hops exported")
    by_id = {s.span_id: s for s in spans}
    server = next(s for s in spans if s.service == "frontend" and s.name == "GET /api/{path:path}")
    assert server.parent_span_id == "00f067aa0ba902b7"
    double = next(s for s in spans if s.service == "gateway-double")
    assert by_id[double.parent_span_id].service == "frontend"


def test_the_gateways_status_and_headers_come_back(frontend):
    answer = httpx.get(frontend.url + "/api/status/418")
    assert answer.status_code == 418
    assert answer.json() == {"status": 418}
    assert answer.headers["x-upstream"] == "double"
    assert len(answer.headers.get_list("x-trace-id")) == 1


def test_a_gateway_slower_than_the_timeout_is_a_504(frontend):
    answer = httpx.get(frontend.url + "/api/slow?seconds=3", timeout=10)
    assert answer.status_code == 504
    assert answer.json() == {
        "error": "upstream_timeout",
        "message": "api-gateway did not answer within 0.5s",
    }


def test_an_unreachable_gateway_is_a_502_and_the_page_still_loads(run_app, free_port):
    server = run_app(FRONTEND, {"AIRSCOPE_URL_API_GATEWAY": f"http://127.0.0.1:{free_port()}"})
    answer = httpx.post(server.url + "/api/chat", json={"message": "hi"})
    assert answer.status_code == 502
    assert answer.json()["error"] == "upstream_unreachable"
    assert "api-gateway could not be reached" in answer.json()["message"]
    assert httpx.get(server.url + "/").status_code == 200
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "warn"
    [(name, [check])] = health["checks"].items()
    assert name.startswith("api-gateway") and check["status"] == "warn" and check["output"]
