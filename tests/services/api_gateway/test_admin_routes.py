"""The gateway's operators' routes (/api/admin/...): forwarded to the services' /admin routes for an
API key only; a user's sign-in token is refused, and the public routes never reach /admin."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
import yaml

from airscope.catalog import DEFAULT_PATH
from tests.servers import AppServer
from tests.services.api_gateway.test_gateway import API_KEY, ECHO, ECHO_MODULE, GATEWAY, bearer, gateway_env

pytestmark = pytest.mark.infra

ADMINISTERED = ("saga-orchestrator", "automation-services", "platform-services")


@pytest.fixture(scope="module")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    for name, service in data["services"].items():
        if name != "api-gateway":
            service["module"] = ECHO_MODULE if name in ADMINISTERED else f"airscope.services.absent_{name}"
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def gateway(module_apps, catalog_file: Path, redis_server, free_port) -> AppServer:
    echo = module_apps.start(ECHO, {"AIRSCOPE_CATALOG": str(catalog_file)})
    env = gateway_env(
        catalog_file,
        redis_server.url,
        echo.url,
        echo.url,
        AIRSCOPE_URL_AUTOMATION_SERVICES=echo.url,
    )
    return module_apps.start(GATEWAY, env)


KEY = {"X-API-Key": API_KEY}


@pytest.mark.parametrize(
    ("method", "path", "upstream_path"),
    [
        ("GET", "/api/admin/sagas?status=failed", "/admin/sagas"),
        (
            "POST",
            "/api/admin/sagas/0b6f0e0e-0000-4000-8000-000000000000/close",
            "/admin/sagas/0b6f0e0e-0000-4000-8000-000000000000/close",
        ),
        ("GET", "/api/admin/jobs", "/admin/jobs"),
        ("DELETE", "/api/admin/jobs/imports/abc123", "/admin/jobs/imports/abc123"),
        ("POST", "/api/admin/users/revoke-tokens", "/admin/users/revoke-tokens"),
    ],
)
def test_an_api_key_reaches_the_services_admin_routes(
    gateway: AppServer, method: str, path: str, upstream_path: str
) -> None:
    answer = httpx.request(method, gateway.url + path, headers=KEY, json={}, timeout=10)

    assert answer.status_code == 200, answer.text
    assert answer.json()["path"] == upstream_path
    client_id = "key:" + hashlib.sha256(API_KEY.encode()).hexdigest()[:16]
    assert ["x-client-id", client_id] in answer.json()["headers"]  # who acted, for the services' logs


def test_a_sign_in_token_or_no_credential_is_refused(gateway: AppServer) -> None:
    as_user = httpx.get(gateway.url + "/api/admin/sagas", headers=bearer(), timeout=10)
    assert as_user.status_code == 403
    assert as_user.json()["error"] == "api_key_required"
    assert "X-API-Key" in as_user.json()["message"]

    anonymous = httpx.post(
        gateway.url + "/api/admin/users/revoke-tokens", json={"email": "a@b.c"}, timeout=10
    )
    assert anonymous.status_code == 401 and anonymous.json()["message"]

    wrong = httpx.get(gateway.url + "/api/admin/jobs", headers={"X-API-Key": "not-the-key"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_api_key"


@pytest.mark.parametrize(
    "path", ["/api/automation/admin/jobs", "/api/automation//admin/jobs", "/api/automation/%61dmin/jobs"]
)
def test_the_public_routes_never_reach_admin(gateway: AppServer, path: str) -> None:
    for headers in (KEY, bearer()):
        answer = httpx.get(gateway.url + path, headers=headers, timeout=10)
        assert answer.status_code == 404, (path, answer.text)
