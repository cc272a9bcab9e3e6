"""CORS on the gateway: the frontend's origin (AIRSCOPE_CORS_ORIGINS, by default the origin of
AIRSCOPE_URL_FRONTEND) may call it from a browser; a page of any other origin gets no
Access-Control-Allow-Origin, so the browser keeps the answer from it."""

from __future__ import annotations

import httpx
import pytest

from airscope import catalog
from airscope.services.api_gateway.config import Config, parse_origins
from airscope.services.common import ConfigError

GATEWAY = "airscope.services.api_gateway"
FRONTEND_ORIGIN = "https://airscope.example.com"
OTHER_ORIGIN = "https://evil.example.net"


def test_origins_are_read_as_a_browser_sends_them():
    assert parse_origins(" https://Airscope.example.com/ , http://127.0.0.1:5173,") == (
        "https://airscope.example.com",
        "http://127.0.0.1:5173",
    )
    assert parse_origins("") == ()


@pytest.mark.parametrize(
    "value", ["*", "https://*.example.com", "airscope.example.com", "https://a.example/app"]
)
def test_a_wildcard_or_anything_but_an_origin_is_refused(value):
    with pytest.raises(ConfigError) as refused:
        parse_origins(value)
    assert str(refused.value).startswith(f"AIRSCOPE_CORS_ORIGINS: '{value.lower()}' is not an origin")


def test_by_default_only_the_frontends_own_origin_is_allowed(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delenv("AIRSCOPE_CORS_ORIGINS", raising=False)
    monkeypatch.setenv("AIRSCOPE_URL_FRONTEND", "http://127.0.0.1:15173/")
    assert Config.from_env().cors_origins == ("http://127.0.0.1:15173",)
    monkeypatch.setenv("AIRSCOPE_CORS_ORIGINS", FRONTEND_ORIGIN)
    assert Config.from_env().cors_origins == (FRONTEND_ORIGIN,)


@pytest.fixture
def gateway(run_app, redis_server, free_port):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: no upstream is needed here
    upstreams = {
        f"AIRSCOPE_URL_{service.env_name}": dead
        for service in catalog.load().services.values()
        if service.name != "api-gateway"
    }
    env = {
        **upstreams,
        "REDIS_URL": redis_server.url,
        "AIRSCOPE_JWT_SECRET": "cors-test-jwt-secret-" + "s" * 40,
        "AIRSCOPE_CORS_ORIGINS": FRONTEND_ORIGIN,
        "GATEWAY_HEALTH_TIMEOUT_SECONDS": "0.2",
    }
    return run_app(GATEWAY, env=env)


def preflight(gateway, origin: str) -> httpx.Response:
    return httpx.options(
        gateway.url + "/api/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, traceparent",
        },
    )


@pytest.mark.infra
def test_a_preflight_from_the_frontends_origin_is_allowed_and_from_another_is_not(gateway):
    allowed = preflight(gateway, FRONTEND_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert {"authorization", "content-type", "traceparent"} <= {
        h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
    }
    assert "access-control-allow-credentials" not in allowed.headers  # credentials travel in headers

    refused = preflight(gateway, OTHER_ORIGIN)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.infra
def test_answers_carry_the_allow_origin_header_only_for_the_frontends_origin(gateway):
    # A refusal too: the page must be able to read why its call failed.
    answer = httpx.post(
        gateway.url + "/api/chat", json={"message": "hi"}, headers={"Origin": FRONTEND_ORIGIN}
    )
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert "x-trace-id" in answer.headers["access-control-expose-headers"].lower()

    for origin in (OTHER_ORIGIN, "null", FRONTEND_ORIGIN + ".evil.example.net"):
        answer = httpx.get(gateway.url + "/api/health", headers={"Origin": origin})
        assert answer.status_code in (200, 503)
        assert "access-control-allow-origin" not in answer.headers
