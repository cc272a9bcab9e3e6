"""platform-services' operator route POST /admin/users/revoke-tokens: every login of an account
ends (its refresh tokens are refused), later logins work, and the metric counts the revocation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from airscope.local.postgres import PostgresServer
from tests.servers import AppServer, movement, scrape
from tests.services.platform_services.test_service import MODULE, account, login, refresh, service_env

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def service(tmp_path_factory, free_port, postgres_server: PostgresServer) -> Iterator[AppServer]:
    postgres_server.ensure_database("platform_admin", "pw")
    env = service_env(postgres_server.dsn("platform_admin", "platform_admin", "pw"))
    with AppServer(MODULE, free_port(), env=env, log_dir=tmp_path_factory.mktemp("logs")) as server:
        yield server


def revoke(url: str, body: object) -> httpx.Response:
    return httpx.post(url + "/admin/users/revoke-tokens", json=body, timeout=10)


def test_revoking_ends_every_login_of_the_account_and_no_other(service: AppServer) -> None:
    email, password, user = account(service.url)
    other_email, other_password, _ = account(service.url)
    phone, laptop = login(service.url, email, password).json(), login(service.url, email, password).json()
    rotated = refresh(service.url, laptop["refresh_token"]).json()  # the old one is revoked already
    other = login(service.url, other_email, other_password).json()
    before = scrape(service.url)

    answer = revoke(service.url, {"email": f"  {email.upper()} "})  # as the address is typed

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "user_id": user["id"],
        "email": email.lower(),
        "revoked": 2,  # the phone's login and the laptop's current token
        "access_tokens_expire_within_seconds": 900,
    }
    for token in (phone["refresh_token"], rotated["refresh_token"]):
        refused = refresh(service.url, token)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_refresh_token"
    assert refresh(service.url, other["refresh_token"]).status_code == 200
    moved = movement(before, scrape(service.url))
    assert moved("auth_refresh_tokens_revoked_total", reason="operator") == 2

    # The user (with a new password) logs in again as usual; a second revocation finds nothing live.
    fresh = login(service.url, email, password)
    assert fresh.status_code == 200
    assert revoke(service.url, {"email": email}).json()["revoked"] == 1


def test_logout_and_reuse_count_their_revocations(service: AppServer) -> None:
    email, password, _ = account(service.url)
    tokens = login(service.url, email, password).json()
    before = scrape(service.url)

    httpx.post(service.url + "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, timeout=5)
    first = login(service.url, email, password).json()
    refresh(service.url, first["refresh_token"])
    refresh(service.url, first["refresh_token"])  # presented again: its login is revoked

    moved = movement(before, scrape(service.url))
    assert moved("auth_refresh_tokens_revoked_total", reason="logout") == 1
    assert moved("auth_refresh_tokens_revoked_total", reason="reuse") == 1


def test_bad_input_is_a_4xx_with_a_message(service: AppServer) -> None:
    cases = [
        ({"email": "nobody-here@example.com"}, 404),
        ({}, 422),
        ({"email": ""}, 422),
        ({"email": "x" * 255}, 422),
        ({"email": "nul\u0000@example.com"}, 422),
        (["not", "an", "object"], 422),
    ]
    for body, status in cases:
        answer = revoke(service.url, body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["message"], answer.text
