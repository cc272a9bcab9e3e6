"""platform-services behind the real api-gateway: both verifiers of a bearer token, and the address
the per-client login limit counts (the one the gateway saw, whatever X-Forwarded-For a caller sends).

The gateway trusts no proxy here (FORWARDED_ALLOW_IPS empty): the test is the client, as an
outside caller of a deployed gateway is.
"""

from __future__ import annotations

import httpx
import pytest

from airscope import catalog
from airscope.local.postgres import PostgresServer
from tests.servers import AppServer, movement, scrape
from tests.services.platform_services.test_service import (
    FORGED,
    JWT_SECRET,
    MODULE,
    account,
    forged_token,
    new_email,
    new_password,
    service_env,
)

pytestmark = pytest.mark.infra

GATEWAY = "airscope.services.api_gateway"
MAX_FAILURES_PER_CLIENT = 3
# Why the gateway refuses each token before platform-services sees it (metrics.AUTH_FAILURE_REASONS).
GATEWAY_REASONS = {
    "alg-none": "token_not_accepted",
    "wrong-signature": "invalid_token",
    "expired": "expired_token",
    "wrong-audience": "token_not_accepted",
    "wrong-issuer": "token_not_accepted",
}


@pytest.fixture(scope="module")
def platform(module_apps, postgres_server: PostgresServer) -> AppServer:
    # A database of its own: the per-client count of 127.0.0.1 must start at zero.
    postgres_server.ensure_database("platform_gateway_test", "pw")
    database_url = postgres_server.dsn("platform_gateway_test", "platform_gateway_test", "pw")
    env = service_env(database_url, PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT=str(MAX_FAILURES_PER_CLIENT))
    return module_apps.start(MODULE, env)


@pytest.fixture(scope="module")
def gateway(module_apps, free_port, redis_server, platform: AppServer) -> AppServer:
    nowhere = f"http://127.0.0.1:{free_port()}"  # the other upstreams: not part of this test
    env = {
        f"AIRSCOPE_URL_{service.env_name}": nowhere
        for service in catalog.load().services.values()
        if service.name != "api-gateway"
    }
    env.update(
        AIRSCOPE_URL_PLATFORM_SERVICES=platform.url,
        AIRSCOPE_JWT_SECRET=JWT_SECRET,
        REDIS_URL=redis_server.url,
        FORWARDED_ALLOW_IPS="",
    )
    return module_apps.start(GATEWAY, env)


def gateway_me(gateway: AppServer, token: str) -> httpx.Response:
    return httpx.get(gateway.url + "/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.mark.parametrize("case", FORGED)
def test_the_gateway_refuses_a_forged_or_stale_token_with_401(
    gateway: AppServer, platform: AppServer, case: str
) -> None:
    _, _, user = account(platform.url)
    valid = gateway_me(gateway, forged_token(user["id"], "valid"))
    assert valid.status_code == 200 and valid.json()["id"] == user["id"]  # the control
    before = scrape(gateway.url)
    refused = gateway_me(gateway, forged_token(user["id"], case))
    assert refused.status_code == 401
    assert refused.json()["error"] == GATEWAY_REASONS[case]
    assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="airscope"')
    moved = movement(before, scrape(gateway.url))
    assert moved("gateway_auth_failures_total", reason=GATEWAY_REASONS[case]) == 1


def test_a_caller_cannot_escape_the_per_client_limit_by_forging_x_forwarded_for(
    gateway: AppServer, platform: AppServer
) -> None:
    before = scrape(platform.url)
    for attempt in range(MAX_FAILURES_PER_CLIENT + 2):
        answer = httpx.post(
            gateway.url + "/api/auth/login",
            json={"email": new_email(), "password": new_password()},
            # A new address each time, as a stuffing script would claim.
            headers={"X-Forwarded-For": f"198.51.100.{attempt}"},
            timeout=10,
        )
        expected = 401 if attempt < MAX_FAILURES_PER_CLIENT else 429
        assert answer.status_code == expected, (attempt, answer.text)
    assert "this client address" in answer.json()["message"]
    assert 1 <= int(answer.headers["Retry-After"]) <= 900
    moved = movement(before, scrape(platform.url))
    assert moved("auth_login_rate_limited_total", scope="client") == 2
