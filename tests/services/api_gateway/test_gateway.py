"""The gateway as a subprocess in front of a test double upstream (tests.services.echo): routing,
credentials, request ids, trace context, upstream failures, rate limits, /api/health, and a Redis outage."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import jwt
import pytest
import yaml

from airscope.catalog import DEFAULT_PATH
from airscope.local.redis import RedisServer
from airscope.local.traces import Span, read_spans
from tests.servers import AppServer, scrape, value
from tests.support import wait_until

pytestmark = pytest.mark.infra

GATEWAY = "airscope.services.api_gateway"
ECHO_MODULE = "tests.services.echo"  # the catalog names modules: the gateway checks they exist
ECHO = f"{ECHO_MODULE}:upstream"
API_KEY = "gateway-test-key-" + "k" * 24
OTHER_KEY = "gateway-other-key-" + "o" * 24
JWT_SECRET = "gateway-test-jwt-secret-" + "s" * 40
# The upstreams this build "has", whatever the tree holds today: the echo app plays them.
PLAYED_BY_ECHO = ("airtable-gateway", "llm-orchestrator", "platform-services", "saga-orchestrator")


@pytest.fixture(scope="module")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    for name, service in data["services"].items():
        if name != "api-gateway":
            service["module"] = (
                ECHO_MODULE
                if name in PLAYED_BY_ECHO
                else f"airscope.services.absent_{name.replace('-', '_')}"
            )
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("traces")


@pytest.fixture(scope="module")
def echo(module_apps, catalog_file, trace_dir) -> AppServer:
    env = {
        "AIRSCOPE_CATALOG": str(catalog_file),
        "AIRSCOPE_TRACE_DIR": str(trace_dir),
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    return module_apps.start(ECHO, env)


def gateway_env(
    catalog_file: Path, redis_url: str, echo_url: str, dead_url: str, **extra: str
) -> dict[str, str]:
    return {
        "AIRSCOPE_CATALOG": str(catalog_file),
        "AIRSCOPE_API_KEY": API_KEY,
        "AIRSCOPE_API_KEYS": f" {OTHER_KEY} ,",
        "AIRSCOPE_JWT_SECRET": JWT_SECRET,
        "REDIS_URL": redis_url,
        "AIRSCOPE_URL_AIRTABLE_GATEWAY": echo_url,
        "AIRSCOPE_URL_LLM_ORCHESTRATOR": echo_url,
        "AIRSCOPE_URL_PLATFORM_SERVICES": echo_url,
        "AIRSCOPE_URL_SAGA_ORCHESTRATOR": dead_url,
        "GATEWAY_TIMEOUT_AIRTABLE_GATEWAY_SECONDS": "0.5",
        **extra,
    }


@pytest.fixture(scope="module")
def gateway(module_apps, catalog_file, trace_dir, echo, redis_server, free_port) -> AppServer:
    env = gateway_env(
        catalog_file,
        redis_server.url,
        echo.url,
        f"http://127.0.0.1:{free_port()}",  # nothing listens: saga-orchestrator is down
        AIRSCOPE_TRACE_DIR=str(trace_dir),
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    return module_apps.start(GATEWAY, env)


def bearer(**overrides: object) -> dict[str, str]:
    claims = {
        "sub": "ada",
        "iss": "platform-services",
        "aud": "airscope",
        "exp": int(time.time()) + 60,
        **overrides,
    }
    return {"Authorization": "Bearer " + jwt.encode(claims, JWT_SECRET, algorithm="HS256")}


def received_headers(answer: httpx.Response) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, header_value in answer.json()["headers"]:
        headers.setdefault(name, []).append(header_value)
    return headers


# --- routing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "gateway_path", "upstream_path"),
    [
        ("POST", "/api/chat", "/chat"),
        ("GET", "/api/chat/sessions/s-1", "/sessions/s-1"),
        ("PATCH", "/api/airtable/bases/app1/tables/My%2FTable/records/rec1", "/bases/app1/tables/My%2FTable/records/rec1"),
        ("DELETE", "/api/airtable/bases/app1/tables/T/records/rec1", "/bases/app1/tables/T/records/rec1"),
        ("GET", "/api/auth/me", "/auth/me"),
    ],
)  # fmt: skip
def test_method_path_query_and_body_reach_the_upstream(gateway, method, gateway_path, upstream_path) -> None:
    answer = httpx.request(
        method,
        gateway.url + gateway_path,
        params={"fields": ["Name", "Email"], "q": "a b"},
        content=b'{"message": "hello"}',
        headers={"X-API-Key": API_KEY, "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    echoed = answer.json()
    assert (echoed["method"], echoed["path"]) == (method, upstream_path)
    assert echoed["query"] == "fields=Name&fields=Email&q=a+b"
    assert echoed["body"] == '{"message": "hello"}'
    assert received_headers(answer)["content-type"] == ["application/json"]


def test_the_upstreams_status_and_headers_come_back(gateway) -> None:
    answer = httpx.get(gateway.url + "/api/airtable/status/418", headers={"X-API-Key": API_KEY})
    assert answer.status_code == 418
    assert answer.headers["x-upstream"] == "echo"
    assert answer.json() == {"status": 418}
    assert len(answer.headers.get_list("x-trace-id")) == 1


def test_dot_segments_cannot_leave_the_routes_prefix(gateway) -> None:
    answer = httpx.get(gateway.url + "/api/auth/%2e%2e/admin", headers={"X-API-Key": API_KEY})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_path"


@pytest.mark.parametrize(
    "path",
    [
        "/api/airtable/metrics",
        "/api/chat/health",
        "/api/chat/health/ready",
        "/api/chat/_drill/memory",
        "/api/airtable/_admin/faults",
        "/api/airtable/%6detrics",  # percent-encoded, as the upstream decodes it
        "/api/airtable//metrics",
    ],
)
def test_internal_routes_of_the_upstreams_are_not_reachable_through_the_gateway(gateway, path) -> None:
    answer = httpx.put(gateway.url + path, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"] == "not_found"


def test_routes_that_only_start_like_an_internal_one_are_forwarded(gateway) -> None:
    answer = httpx.get(gateway.url + "/api/airtable/metrics-of-sales", headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200 and answer.json()["path"] == "/metrics-of-sales"


# --- what is forwarded ---------------------------------------------------------------------------


def test_credentials_stay_at_the_gateway_and_the_client_id_goes_up(gateway) -> None:
    answer = httpx.get(
        gateway.url + "/api/airtable/bases",
        headers={"X-API-Key": API_KEY, "X-Client-Id": "key:forged", "Cookie": "session=abc"},
    )
    received = received_headers(answer)
    assert "x-api-key" not in received
    assert "authorization" not in received
    assert "cookie" not in received
    assert received["x-client-id"] == ["key:" + hashlib.sha256(API_KEY.encode()).hexdigest()[:16]]


def test_a_bearer_token_reaches_platform_services_only(gateway) -> None:
    token = bearer()
    to_platform = received_headers(httpx.get(gateway.url + "/api/auth/me", headers=token))
    assert to_platform["authorization"] == [token["Authorization"]]
    assert to_platform["x-client-id"] == ["user:ada"]
    to_airtable = received_headers(httpx.get(gateway.url + "/api/airtable/bases", headers=token))
    assert "authorization" not in to_airtable


def test_the_request_id_is_passed_on_or_made(gateway) -> None:
    answer = httpx.get(
        gateway.url + "/api/airtable/bases", headers={"X-API-Key": API_KEY, "X-Request-Id": "req-123"}
    )
    assert received_headers(answer)["x-request-id"] == ["req-123"]
    assert answer.headers["x-request-id"] == "req-123"
    made = httpx.get(
        gateway.url + "/api/airtable/bases", headers={"X-API-Key": API_KEY, "X-Request-Id": "bad id!"}
    )
    assert received_headers(made)["x-request-id"] == [made.headers["x-request-id"]]
    assert made.headers["x-request-id"] != "bad id!"


def test_the_upstreams_server_span_is_a_child_of_the_gateways_client_span(gateway, trace_dir) -> None:
    trace_id, callers_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    answer = httpx.get(
        gateway.url + "/api/airtable/bases",
        headers={"X-API-Key": API_KEY, "traceparent": f"00-{trace_id}-{callers_span}-01"},
    )
    assert answer.headers["x-trace-id"] == trace_id
    [traceparent] = received_headers(answer)["traceparent"]
    assert traceparent.split("-")[1] == trace_id
    assert traceparent.split("-")[2] != callers_span

    def both_sides() -> list[Span]:
        # Each process exports on its own schedule: wait for both sides of the call.
        spans = [s for s in read_spans(trace_dir) if s.trace_id == trace_id]
        upstream = [s for s in spans if s.service == "echo-upstream" and s.kind == 2]
        gateway = [s for s in spans if s.service == "api-gateway"]
        assert upstream and len(gateway) >= 2, spans
        return spans

    spans = wait_until(both_sides, 10, message="the spans of both sides of the call")
    upstream = [s for s in spans if s.service == "echo-upstream" and s.kind == 2]
    by_id = {s.span_id: s for s in spans}
    [server] = upstream
    client = by_id[server.parent_span_id]
    assert (client.service, client.kind) == ("api-gateway", 3)
    gateway_server = by_id[client.parent_span_id]
    assert (gateway_server.service, gateway_server.kind) == ("api-gateway", 2)
    assert gateway_server.parent_span_id == callers_span
    assert traceparent.split("-")[2] == client.span_id


# --- upstream failures ---------------------------------------------------------------------------


def test_failures_of_the_upstream_have_their_own_answers(gateway) -> None:
    key = {"X-API-Key": API_KEY}
    before = scrape(gateway.url)
    slow = httpx.get(gateway.url + "/api/airtable/slow", params={"seconds": 3}, headers=key)
    assert (slow.status_code, slow.json()["error"]) == (504, "upstream_timeout")
    refused = httpx.get(gateway.url + "/api/sagas/s-1", headers=key)
    assert (refused.status_code, refused.json()["error"]) == (502, "upstream_unreachable")
    absent = httpx.post(gateway.url + "/api/automation/workflows", headers=key)
    assert (absent.status_code, absent.json()["error"]) == (503, "upstream_not_deployed")
    assert "automation-services is not part of this build yet" in absent.json()["message"]
    ok = httpx.get(gateway.url + "/api/chat/sessions/s-1", headers=key)
    assert ok.status_code == 200

    after = scrape(gateway.url)
    metric = "gateway_upstream_request_duration_seconds_count"
    for upstream, status in [
        ("airtable-gateway", "timeout"),
        ("saga-orchestrator", "unreachable"),
        ("automation-services", "not_deployed"),
        ("llm-orchestrator", "200"),
    ]:
        grown = value(after, metric, upstream=upstream, status=status) - value(
            before, metric, upstream=upstream, status=status
        )
        assert grown == 1, (upstream, status)


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (lambda: {}, "missing_credentials"),
        (lambda: {"X-API-Key": "not-a-key"}, "invalid_api_key"),
        (lambda: {"Authorization": "Bearer not.a.jwt"}, "invalid_token"),
        (lambda: bearer(exp=int(time.time()) - 5), "expired_token"),
        (lambda: bearer(aud="other"), "token_not_accepted"),
    ],
    ids=["missing", "bad-key", "bad-token", "expired", "wrong-audience"],
)
def test_refused_credentials_answer_401_with_their_reason(gateway, make_headers, reason) -> None:
    # Tokens are signed when the test runs: one signed at collection could expire before it runs.
    headers = make_headers()
    before = value(scrape(gateway.url), "gateway_auth_failures_total", reason=reason)
    answer = httpx.get(gateway.url + "/api/airtable/bases", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer realm="airscope"')
    assert answer.json()["error"] == reason
    assert value(scrape(gateway.url), "gateway_auth_failures_total", reason=reason) == before + 1


def test_login_register_and_health_need_no_credentials(gateway) -> None:
    for path in ("/api/auth/login", "/api/auth/register"):
        answer = httpx.post(gateway.url + path, json={"email": "a@example.com"})
        assert (answer.status_code, answer.json()["path"]) == (200, path.removeprefix("/api")), path
        assert "x-client-id" not in received_headers(answer)
    assert httpx.get(gateway.url + "/api/health").status_code in (200, 503)
    assert httpx.get(gateway.url + "/api/auth/me").status_code == 401


def test_no_key_or_token_reaches_a_log_line(gateway) -> None:
    token = bearer()["Authorization"].removeprefix("Bearer ")
    logged = gateway.log_path.read_text().count("duration_ms")
    httpx.get(gateway.url + "/api/airtable/bases", headers={"X-API-Key": API_KEY})
    httpx.get(gateway.url + "/api/airtable/bases", headers={"X-API-Key": API_KEY + "-wrong"})
    httpx.get(gateway.url + "/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    httpx.get(gateway.url + "/api/airtable/bases", headers={"Authorization": f"Bearer {token}x"})
    httpx.get(
        gateway.url + "/api/airtable/bases", params={"api_key": OTHER_KEY}, headers={"X-API-Key": API_KEY}
    )
    # Access lines are flushed at the end of the event-loop iteration: wait for the five above.
    text = wait_until(
        lambda: (t := gateway.log_path.read_text()).count("duration_ms") >= logged + 5 and t,
        message="the access lines written",
    )
    assert '"status": 401' in text or '"status":401' in text
    for secret in (API_KEY, OTHER_KEY, token, JWT_SECRET):
        assert secret not in text


# --- /api/health ---------------------------------------------------------------------------------


def test_api_health_fails_when_an_upstream_is_down_and_names_it(gateway) -> None:
    answer = httpx.get(gateway.url + "/api/health")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/health+json"
    document = answer.json()
    assert document["status"] == "fail"
    checks = {name: entries[0] for name, entries in document["checks"].items()}
    assert set(checks) == {f"{name}:health" for name in yaml.safe_load(DEFAULT_PATH.read_text())["services"]}
    assert checks["saga-orchestrator:health"]["status"] == "fail"
    assert "unreachable" in checks["saga-orchestrator:health"]["output"]
    assert checks["airtable-gateway:health"]["status"] == "pass"
    assert checks["airtable-gateway:health"]["observedUnit"] == "ms"
    assert checks["mcp-server:health"] == {
        "componentType": "component",
        "status": "warn",
        "output": "not deployed in this build",
        "time": checks["mcp-server:health"]["time"],
        "ageSeconds": checks["mcp-server:health"]["ageSeconds"],
    }


def test_api_health_passes_or_warns_with_200_when_nothing_fails(
    run_app, catalog_file, echo, redis_server
) -> None:
    gateway = run_app(GATEWAY, env=gateway_env(catalog_file, redis_server.url, echo.url, echo.url))
    answer = httpx.get(gateway.url + "/api/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "warn"  # the services this build lacks


# --- rate limits ---------------------------------------------------------------------------------


def test_a_client_past_its_burst_gets_429_with_retry_after(run_app, catalog_file, echo, redis_server) -> None:
    env = gateway_env(
        catalog_file,
        redis_server.url,
        echo.url,
        echo.url,
        GATEWAY_RATE_LIMIT_RPS="0.2",
        GATEWAY_RATE_LIMIT_BURST="2",
    )
    gateway = run_app(GATEWAY, env=env)
    key = {"X-API-Key": API_KEY}
    statuses = [httpx.get(gateway.url + "/api/airtable/bases", headers=key).status_code for _ in range(2)]
    refused = httpx.get(gateway.url + "/api/airtable/bases", headers=key)
    assert statuses == [200, 200]
    assert (refused.status_code, refused.json()["error"]) == (429, "rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    assert httpx.get(gateway.url + "/api/airtable/bases", headers={"X-API-Key": OTHER_KEY}).status_code == 200
    samples = scrape(gateway.url)
    assert value(samples, "gateway_rate_limited_requests_total", route="/api/airtable/{path:path}") == 1


def test_without_redis_requests_pass_and_health_names_redis(
    run_app, catalog_file, echo, own_redis: RedisServer
) -> None:
    own_redis.start()
    gateway = run_app(GATEWAY, env=gateway_env(catalog_file, own_redis.url, echo.url, echo.url))
    own_redis.stop()
    answers = [
        httpx.get(gateway.url + "/api/airtable/bases", headers={"X-API-Key": API_KEY}) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert value(scrape(gateway.url), "gateway_rate_limiter_errors_total") == 3

    assert gateway.failing_checks() == {"redis"}
    assert httpx.get(gateway.url + "/health/ready").status_code == 503
    warnings = [
        r
        for r in gateway.log_records()
        if r.get("event") == "rate limiter unavailable, letting requests through"
    ]
    assert len(warnings) == 1
