"""platform-services end to end: the app as a uvicorn subprocess on the session's real PostgreSQL.

One instance serves the module (start-up includes the migrations); the outage test runs its own
PostgreSQL so it can stop it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import jwt
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from airscope.local.postgres import PostgresServer
from airscope.services.api_gateway.auth import Authenticator
from airscope.services.platform_services.activity import active_users
from airscope.services.platform_services.config import sqlalchemy_url
from airscope.services.platform_services.models import Base
from tests.servers import AppServer, movement, scrape, value
from tests.support import wait_until

pytestmark = pytest.mark.infra

MODULE = "airscope.services.platform_services"
JWT_SECRET = "platform-test-jwt-secret-0123456789abcdef"
# Every password and token the tests send: none may appear in a log line.
SECRETS: list[str] = []


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "AIRSCOPE_JWT_SECRET": JWT_SECRET,
        "PLATFORM_ACTIVE_USERS_REFRESH_SECONDS": "0.2",
        **extra,
    }


@pytest.fixture(scope="module")
def database_url(postgres_server: PostgresServer) -> str:
    postgres_server.ensure_database("platform_test", "pw")
    return postgres_server.dsn("platform_test", "platform_test", "pw")


@pytest.fixture(scope="module")
def service(tmp_path_factory, free_port, database_url: str) -> Iterator[AppServer]:
    server = AppServer(
        MODULE, free_port(), env=service_env(database_url), log_dir=tmp_path_factory.mktemp("logs")
    )
    with server:
        yield server


def new_email() -> str:
    return f"User-{uuid.uuid4().hex[:10]}@Example.com"


def new_password() -> str:
    password = "pw-" + uuid.uuid4().hex
    SECRETS.append(password)
    return password


def register(url: str, email: str, password: str, **extra: str) -> httpx.Response:
    return httpx.post(
        url + "/auth/register", json={"email": email, "password": password, **extra}, timeout=10
    )


def login(url: str, email: str, password: str, client: str | None = None) -> httpx.Response:
    """``client``: the address the api-gateway would name in X-Forwarded-For."""
    headers = {"X-Forwarded-For": client} if client else {}
    response = httpx.post(
        url + "/auth/login", json={"email": email, "password": password}, headers=headers, timeout=10
    )
    if response.status_code == 200:
        SECRETS.extend([response.json()["access_token"], response.json()["refresh_token"]])
    return response


def refresh(url: str, token: str) -> httpx.Response:
    response = httpx.post(url + "/auth/refresh", json={"refresh_token": token}, timeout=10)
    if response.status_code == 200:
        SECRETS.extend([response.json()["access_token"], response.json()["refresh_token"]])
    return response


def me(url: str, token: str) -> httpx.Response:
    return httpx.get(url + "/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def account(url: str) -> tuple[str, str, dict]:
    email, password = new_email(), new_password()
    response = register(url, email, password)
    assert response.status_code == 201, response.text
    return email, password, response.json()


def test_register_login_me(service: AppServer) -> None:
    email, password = new_email(), new_password()
    created = register(service.url, email, password, display_name="Ada")
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == email.lower() and user["display_name"] == "Ada"
    assert set(user) == {"id", "email", "display_name", "created_at"}

    tokens = login(service.url, email.upper(), password)  # addresses are case-insensitive
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900 and body["refresh_token"]

    response = me(service.url, body["access_token"])
    assert response.status_code == 200 and response.json() == user
    assert me(service.url, "garbage").status_code == 401
    missing = httpx.get(service.url + "/auth/me", timeout=5)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_token"
    assert "Bearer" in missing.headers["WWW-Authenticate"]


def forged_token(user_id: str, case: str) -> str:
    """An access token for ``user_id`` that is wrong in one way only (``case``)."""
    now = int(time.time())
    claims = {
        "iss": "platform-services",
        "aud": "airscope",
        "sub": user_id,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    if case == "alg-none":
        return jwt.encode(claims, None, algorithm="none")
    if case == "wrong-signature":
        return jwt.encode(claims, JWT_SECRET[::-1], algorithm="HS256")
    if case == "expired":
        claims.update(iat=now - 120, exp=now - 60)
    elif case == "wrong-audience":
        claims["aud"] = "another-api"
    elif case == "wrong-issuer":
        claims["iss"] = "someone-else"
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


FORGED = ("alg-none", "wrong-signature", "expired", "wrong-audience", "wrong-issuer")


@pytest.mark.parametrize("case", FORGED)
def test_auth_me_refuses_a_forged_or_stale_token_with_401(service: AppServer, case: str) -> None:
    _, _, user = account(service.url)
    assert me(service.url, forged_token(user["id"], "valid")).status_code == 200  # the control
    before = scrape(service.url)
    refused = me(service.url, forged_token(user["id"], case))
    assert refused.status_code == 401
    assert refused.json()["error"] == ("expired_token" if case == "expired" else "invalid_token")
    assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="airscope", error="invalid_token"')
    outcome = "expired" if case == "expired" else "invalid_token"
    moved = movement(before, scrape(service.url))
    assert moved("auth_attempts_total", method="token", outcome=outcome) == 1


def test_the_gateway_accepts_the_access_token(service: AppServer) -> None:
    email, password, user = account(service.url)
    token = login(service.url, email, password).json()["access_token"]
    gateway = Authenticator([], jwt_secret=JWT_SECRET, issuer="platform-services", audience="airscope")
    assert gateway.check_token(token) == f"user:{user['id']}"


def test_duplicate_email_is_409(service: AppServer) -> None:
    email, _, _ = account(service.url)
    again = register(service.url, email.upper(), new_password())
    assert again.status_code == 409 and again.json()["error"] == "email_taken"


def test_bad_input_is_422_with_a_message(service: AppServer) -> None:
    short = register(service.url, new_email(), "short")
    assert short.status_code == 422
    assert short.json()["error"] == "invalid_request" and "password" in short.json()["message"]
    bad_email = register(service.url, "not-an-email", new_password())
    assert bad_email.status_code == 422 and "email" in bad_email.json()["message"]
    bad_type = httpx.post(service.url + "/activity", json={"type": "dance", "user": "u"}, timeout=5)
    assert bad_type.status_code == 422 and "type" in bad_type.json()["message"]
    bad_days = httpx.get(service.url + "/analytics/activity", params={"days": 91}, timeout=5)
    assert bad_days.status_code == 422 and "days" in bad_days.json()["message"]
    assert httpx.post(service.url + "/workspaces", json={"name": ""}, timeout=5).status_code == 422


def test_wrong_password_is_401_and_counted(service: AppServer) -> None:
    email, _, _ = account(service.url)
    before = scrape(service.url)
    wrong = login(service.url, email, new_password())
    unknown = login(service.url, new_email(), new_password())
    # The same answer whether the account exists or not.
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() and wrong.json()["error"] == "invalid_credentials"
    moved = movement(before, scrape(service.url))
    assert moved("auth_attempts_total", method="password", outcome="invalid_credentials") == 2


def test_refresh_rotates_and_refuses_reuse(service: AppServer) -> None:
    email, password, user = account(service.url)
    first = login(service.url, email, password).json()
    before = scrape(service.url)

    second = refresh(service.url, first["refresh_token"])
    assert second.status_code == 200, second.text
    second_body = second.json()
    assert second_body["refresh_token"] != first["refresh_token"]
    assert me(service.url, second_body["access_token"]).json()["id"] == user["id"]

    reused = refresh(service.url, first["refresh_token"])
    assert reused.status_code == 401 and reused.json()["error"] == "invalid_refresh_token"
    # The reuse revoked the whole login: the token issued by the rotation no longer works either.
    assert refresh(service.url, second_body["refresh_token"]).status_code == 401
    assert refresh(service.url, "never-issued").status_code == 401

    moved = movement(before, scrape(service.url))
    assert moved("auth_attempts_total", method="refresh", outcome="success") == 1
    assert moved("auth_attempts_total", method="refresh", outcome="invalid_token") == 3
    assert moved("auth_tokens_issued_total", type="access") == 1
    assert moved("auth_tokens_issued_total", type="refresh") == 1


def test_logout_revokes_the_refresh_token(service: AppServer) -> None:
    email, password, _ = account(service.url)
    tokens = login(service.url, email, password).json()
    response = httpx.post(
        service.url + "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, timeout=5
    )
    assert response.status_code == 204
    assert refresh(service.url, tokens["refresh_token"]).status_code == 401
    again = httpx.post(
        service.url + "/auth/logout", json={"refresh_token": tokens["refresh_token"]}, timeout=5
    )
    assert again.status_code == 204


def test_repeated_failed_logins_are_limited_per_account(service: AppServer) -> None:
    email, password, _ = account(service.url)
    other_email, other_password, _ = account(service.url)
    before = scrape(service.url)
    for attempt in range(5):  # from five addresses: the account's limit counts them all
        assert login(service.url, email, new_password(), client=f"192.0.2.{attempt}").status_code == 401
    limited = login(service.url, email, password)  # even the right password, now
    assert limited.status_code == 429 and limited.json()["error"] == "too_many_attempts"
    assert "this account" in limited.json()["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 900
    assert login(service.url, other_email, other_password).status_code == 200  # others are not affected
    moved = movement(before, scrape(service.url))
    assert moved("auth_attempts_total", method="password", outcome="rate_limited") == 1
    assert moved("auth_login_rate_limited_total", scope="account") == 1
    assert moved("auth_login_rate_limited_total", scope="client") == 0


def test_repeated_failed_logins_are_limited_per_client(run_app, database_url: str) -> None:
    """Credential stuffing: one client, a few tries on each of many accounts, each account far from
    its own limit. The client's own address is what counts, not what it claims further left."""
    server = run_app(MODULE, env=service_env(database_url, PLATFORM_LOGIN_MAX_FAILURES_PER_CLIENT="3"))
    stuffer, bystander = "203.0.113.7", "198.51.100.9"
    victims = [account(server.url) for _ in range(4)]
    before = scrape(server.url)
    for email, _, _ in victims[:3]:
        assert login(server.url, email, new_password(), client=stuffer).status_code == 401
    email, password, _ = victims[3]
    for claimed in (stuffer, f"{bystander}, {stuffer}"):  # a forged hop to the left changes nothing
        limited = login(server.url, email, password, client=claimed)
        assert limited.status_code == 429 and limited.json()["error"] == "too_many_attempts"
        assert "this client address" in limited.json()["message"]
        assert 1 <= int(limited.headers["Retry-After"]) <= 900
    assert login(server.url, email, password, client=bystander).status_code == 200  # the account is fine
    moved = movement(before, scrape(server.url))
    assert moved("auth_login_rate_limited_total", scope="client") == 2
    assert moved("auth_login_rate_limited_total", scope="account") == 0
    assert moved("auth_attempts_total", method="password", outcome="rate_limited") == 2
    assert moved("auth_attempts_total", method="password", outcome="invalid_credentials") == 3

    def refused_clients() -> list[str]:
        event = "login refused: too many failed logins from this client"
        return [r["client"] for r in server.log_records() if r.get("event") == event]

    # The address to block, for the operator.
    wait_until(lambda: len(refused_clients()) == 2, message="two refusals logged")
    assert set(refused_clients()) == {stuffer}


def analytics(url: str, days: int) -> list[dict]:
    response = httpx.get(url + "/analytics/activity", params={"days": days}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["days"]


async def insert_past_event(database_url: str, event_type: str, occurred_at: datetime) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "INSERT INTO activity_events (type, actor, occurred_at) VALUES ($1, 'user:past', $2)",
            event_type,
            occurred_at,
        )
    finally:
        await connection.close()


def test_activity_counts_per_day_with_zero_days(service: AppServer, database_url: str) -> None:
    before = analytics(service.url, 7)
    metrics_before = scrape(service.url)
    for event_type in ("chat", "chat", "upload", "saga"):
        response = httpx.post(
            service.url + "/activity", json={"type": event_type, "user": "user:x"}, timeout=5
        )
        assert response.status_code == 202
    five_days_ago = datetime.now(UTC).replace(hour=12, minute=0) - timedelta(days=5)
    asyncio.run(insert_past_event(database_url, "saga", five_days_ago))

    days = analytics(service.url, 7)
    today = datetime.now(UTC).date()
    assert [day["date"] for day in days] == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert all(set(day["counts"]) == {"login", "chat", "upload", "saga"} for day in days)
    delta = {t: days[-1]["counts"][t] - before[-1]["counts"][t] for t in ("login", "chat", "upload", "saga")}
    assert delta == {"login": 0, "chat": 2, "upload": 1, "saga": 1}
    assert days[1]["counts"]["saga"] - before[1]["counts"]["saga"] == 1
    assert days[2]["counts"] == {"login": 0, "chat": 0, "upload": 0, "saga": 0}  # a day without events
    assert len(analytics(service.url, 1)) == 1 and len(analytics(service.url, 90)) == 90

    moved = movement(metrics_before, scrape(service.url))
    assert moved("activity_events_total", type="chat") == 2
    assert moved("db_query_duration_seconds_count", operation="activity_by_day") > 0


def counted_active_users(database_url: str) -> int:
    """The active users as platform-services' own query counts them, now."""

    async def count() -> int:
        engine = create_async_engine(sqlalchemy_url(database_url))
        try:
            async with AsyncSession(engine) as session:
                return await active_users(session)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_login_records_an_event_and_active_users_are_counted(service: AppServer, database_url: str) -> None:
    email, password, _ = account(service.url)
    before = counted_active_users(database_url)
    before_logins = analytics(service.url, 1)[0]["counts"]["login"]
    assert login(service.url, email, password).status_code == 200
    assert analytics(service.url, 1)[0]["counts"]["login"] == before_logins + 1
    key = f"key:{uuid.uuid4().hex[:16]}"
    for actor in (key, key, f"user:{uuid.uuid4()}"):
        httpx.post(
            service.url + "/activity", json={"type": "chat", "user": actor}, timeout=5
        ).raise_for_status()
    # The login (user:<id>) and two new actors: three more distinct users.
    assert counted_active_users(database_url) == before + 3
    # The gauge (refreshed every 0.2 s here) catches up with them, whatever ran before.
    wait_until(
        lambda: value(scrape(service.url), "platform_active_users") == counted_active_users(database_url),
        message="platform_active_users as counted",
    )


def test_workspace_create_is_idempotent(service: AppServer) -> None:
    key = f"saga-{uuid.uuid4()}:create_workspace"
    payload = {"name": "Acme", "owner": "user:1"}

    def create(body: dict = payload) -> httpx.Response:
        return httpx.post(
            service.url + "/workspaces", json=body, headers={"Idempotency-Key": key}, timeout=10
        )

    first = create()
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["name"] == "Acme" and body["owner"] == "user:1" and body["deleted_at"] is None
    again = create()
    assert again.status_code == 201 and again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = httpx.get(service.url + "/workspaces", params={"limit": 1000}, timeout=5).json()["workspaces"]
    assert [w["id"] for w in listed].count(body["id"]) == 1
    assert create({"name": "Other"}).status_code == 422  # the same key for another request


def test_concurrent_duplicates_get_the_first_answer(service: AppServer) -> None:
    key = str(uuid.uuid4())

    def create(_: int) -> httpx.Response:
        return httpx.post(
            service.url + "/workspaces", json={"name": "Race"}, headers={"Idempotency-Key": key}, timeout=10
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1


def test_workspace_delete_is_soft_and_idempotent(service: AppServer) -> None:
    created = httpx.post(service.url + "/workspaces", json={"name": "Temp"}, timeout=5).json()
    url = f"{service.url}/workspaces/{created['id']}"
    assert httpx.get(url, timeout=5).json() == created
    assert httpx.delete(url, timeout=5).status_code == 204
    deleted = httpx.get(url, timeout=5).json()
    assert deleted["deleted_at"] is not None and deleted["name"] == "Temp"
    assert httpx.delete(url, timeout=5).status_code == 204
    assert httpx.get(url, timeout=5).json()["deleted_at"] == deleted["deleted_at"]
    listed = httpx.get(service.url + "/workspaces", timeout=5).json()["workspaces"]
    assert created["id"] not in [w["id"] for w in listed]
    missing = f"{service.url}/workspaces/{uuid.uuid4()}"
    assert httpx.delete(missing, timeout=5).status_code == 404
    assert httpx.get(missing, timeout=5).status_code == 404
    assert httpx.get(service.url + "/workspaces/not-a-uuid", timeout=5).status_code == 404


def test_metrics_cover_the_pool_and_queries(service: AppServer) -> None:
    email, password, _ = account(service.url)
    assert login(service.url, email, password).status_code == 200  # looks the user up by email
    samples = scrape(service.url)
    assert value(samples, "db_pool_connections_limit") == 15
    assert value(samples, "db_pool_connections", state="idle") >= 1
    assert value(samples, "db_pool_connections", state="in_use") >= 0
    assert value(samples, "db_query_duration_seconds_count", operation="migrate") == 1
    assert value(samples, "db_query_duration_seconds_count", operation="user_by_email") > 0


def test_the_models_match_the_migrated_schema(service: AppServer, database_url: str) -> None:
    async def differences() -> list:
        engine = create_async_engine(sqlalchemy_url(database_url))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []


def test_no_password_or_token_in_any_log_line(service: AppServer) -> None:
    # Secrets of this test's own (any other test's are checked too): a password, a wrong one, tokens.
    email, password, _ = account(service.url)
    assert login(service.url, email, new_password()).status_code == 401
    tokens = login(service.url, email, password).json()
    assert refresh(service.url, tokens["refresh_token"]).status_code == 200
    assert len(SECRETS) >= 6
    # The last request's line written means every earlier one's is too.
    marker = f"/after-the-secrets-{uuid.uuid4().hex}"
    assert httpx.get(service.url + marker, timeout=5).status_code == 404

    def lines() -> list[str]:
        written = [json.dumps(record) for record in service.log_records()]
        return written if any(marker in line for line in written) else []

    logged = wait_until(lines, message=f"{marker} logged")
    leaked = [secret for secret in SECRETS if any(secret in line for line in logged)]
    assert leaked == []


def test_postgres_outage_and_late_start(
    tmp_path: Path, free_port: Callable[[], int], reachable_tmp: Callable[[str], Path]
) -> None:
    postgres = PostgresServer(reachable_tmp("platform-pg") / "data", free_port())
    postgres.start()
    try:
        postgres.ensure_database("platform_outage", "pw")
        postgres.stop()
        server = AppServer(
            MODULE,
            free_port(),
            env=service_env(postgres.dsn("platform_outage", "platform_outage", "pw")),
            log_dir=tmp_path / "logs",
            ready_path="/health/live",
        )
        with server:
            # Started without PostgreSQL: alive, not ready, requests refused with 503.
            not_ready = httpx.get(server.url + "/health/ready", timeout=5)
            assert not_ready.status_code == 503 and "postgres" in json.dumps(not_ready.json()["checks"])
            refused = register(server.url, new_email(), new_password())
            assert refused.status_code == 503 and refused.json()["error"] == "postgres_unavailable"

            postgres.start()
            wait_until(
                lambda: httpx.get(server.url + "/health/ready", timeout=5).status_code == 200,
                timeout=20,
                message="ready once PostgreSQL started",
            )
            assert register(server.url, new_email(), new_password()).status_code == 201  # migrated

            postgres.stop()
            # /health caches its checks for a second.
            wait_until(
                lambda: httpx.get(server.url + "/health", timeout=10).status_code == 503,
                message="/health 503 once PostgreSQL stopped",
            )
            health = httpx.get(server.url + "/health", timeout=10)
            assert health.json()["checks"]["postgres:responseTime"][0]["status"] == "fail"
            down = register(server.url, new_email(), new_password())
            assert down.status_code == 503 and down.json()["error"] == "postgres_unavailable"
    finally:
        postgres.stop()
