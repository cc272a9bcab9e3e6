"""The runtime fault switch, through both stand-ins' admin APIs, and the stand-ins' refusal to start
in production."""

from __future__ import annotations

import importlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from airscope import catalog
from airscope.errors import AirscopeError
from airscope.standins import airtable, llm
from airscope.standins.faults import FaultSwitch, FaultUpdate

AUTH = {"Authorization": "Bearer test-token"}
ORDERS = "/v0/appAirscopeDemo01/Orders?pageSize=1"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> TestClient:
    monkeypatch.setenv("STANDIN_AIRTABLE_DB", str(tmp_path / "airtable.sqlite"))
    monkeypatch.setenv("STANDIN_AIRTABLE_RATE_LIMIT", "0")
    monkeypatch.delenv("STANDIN_LATENCY_MS", raising=False)
    return TestClient(airtable.create_app(), headers=AUTH)


def waits(client: TestClient, path: str) -> list[float]:
    """The latencies (seconds) the fault switch waited while answering one request for the path."""
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    client.app.state.faults.sleep = sleep
    assert client.get(path).status_code == 200
    return waited


def test_starts_without_faults(client: TestClient) -> None:
    assert client.get("/_admin/health").json() == {"status": "pass"}
    assert client.get("/_admin/faults").json() == {
        "error_rate": 0.0,
        "extra_latency_ms": 0.0,
        "down": False,
        "rate_limited_rate": 0.0,
    }


def test_down_answers_503_and_leaves_the_admin_api_alone(client: TestClient) -> None:
    assert client.put("/_admin/faults", json={"down": True}).json()["down"] is True
    response = client.get(ORDERS)
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "SERVICE_UNAVAILABLE"
    assert client.get("/_admin/health").status_code == 200


def test_error_rate_one_answers_500_every_time(client: TestClient) -> None:
    client.put("/_admin/faults", json={"error_rate": 1.0})
    responses = [client.get(ORDERS) for _ in range(5)]
    assert [r.status_code for r in responses] == [500] * 5
    assert responses[0].json()["error"]["type"] == "SERVER_ERROR"


def test_rate_limited_rate_one_answers_429_with_retry_after_in_each_providers_shape(
    client: TestClient,
) -> None:
    client.put("/_admin/faults", json={"rate_limited_rate": 1.0})
    responses = [client.get(ORDERS) for _ in range(3)]
    assert [r.status_code for r in responses] == [429] * 3
    assert responses[0].headers["retry-after"] == "1"
    # Airtable's own refusal, as its per-base limit answers it: clients (pyairtable) retry on it.
    assert responses[0].json()["errors"][0]["error"] == "RATE_LIMIT_REACHED"
    assert client.get("/_admin/health").status_code == 200

    llm_client = TestClient(llm.create_app(), headers=AUTH)
    llm_client.put("/_admin/faults", json={"rate_limited_rate": 1.0})
    refused = llm_client.get("/v1/models")
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"


def test_extra_latency_is_added_to_api_requests(client: TestClient) -> None:
    assert waits(client, ORDERS) == []
    client.put("/_admin/faults", json={"extra_latency_ms": 300})
    assert waits(client, ORDERS) == [0.3]
    assert waits(client, "/_admin/faults") == []


def test_put_changes_only_what_it_names_and_delete_resets(client: TestClient) -> None:
    client.put("/_admin/faults", json={"down": True, "extra_latency_ms": 50})
    state = client.put("/_admin/faults", json={"error_rate": 0.5}).json()
    assert state == {"error_rate": 0.5, "extra_latency_ms": 50.0, "down": True, "rate_limited_rate": 0.0}
    assert client.delete("/_admin/faults").json() == {
        "error_rate": 0.0,
        "extra_latency_ms": 0.0,
        "down": False,
        "rate_limited_rate": 0.0,
    }
    assert client.get(ORDERS).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 1.5},
        {"extra_latency_ms": -1},
        {"down": "sometimes"},
        {"rate_limited_rate": -0.1},
        {"latency": 5},
    ],
)
def test_bad_fault_settings_are_refused(client: TestClient, body: dict) -> None:
    assert client.put("/_admin/faults", json=body).status_code == 422
    assert client.get("/_admin/faults").json()["error_rate"] == 0.0


def test_base_latency_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_LATENCY_MS", "250")
    client = TestClient(llm.create_app(), headers=AUTH)
    assert waits(client, "/v1/models") == [0.25]
    assert waits(client, "/_admin/health") == []
    client.put("/_admin/faults", json={"extra_latency_ms": 100})
    assert waits(client, "/v1/models") == [0.35]


def test_a_bad_base_latency_stops_the_stand_in_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_LATENCY_MS", "-5")
    with pytest.raises(AirscopeError, match="STANDIN_LATENCY_MS"):
        llm.create_app()


def test_the_llm_stand_in_fails_in_openai_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STANDIN_LATENCY_MS", raising=False)
    client = TestClient(llm.create_app(), headers=AUTH)
    client.put("/_admin/faults", json={"down": True})
    down = client.get("/v1/models")
    assert down.status_code == 503
    assert set(down.json()["error"]) == {"message", "type", "param", "code"}
    client.put("/_admin/faults", json={"down": False, "error_rate": 1})
    assert client.get("/v1/models").status_code == 500


@pytest.mark.anyio
async def test_error_rate_fails_about_that_fraction() -> None:
    switch = FaultSwitch(rng=random.Random(7))
    switch.update(FaultUpdate(error_rate=0.25))
    failures = [await switch.failure() for _ in range(400)]
    assert 60 <= sum(f is not None for f in failures) <= 140


# --- never in production -------------------------------------------------------------------------

STANDINS = sorted(saas.standin.module for saas in catalog.load().external.values())


@pytest.mark.parametrize("module", STANDINS)
def test_a_stand_in_refuses_to_be_created_in_production(module, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRSCOPE_ENVIRONMENT", "production")
    monkeypatch.setenv("STANDIN_AIRTABLE_DB", str(tmp_path / "airtable.sqlite"))
    with pytest.raises(AirscopeError, match="AIRSCOPE_ENVIRONMENT=production"):
        importlib.import_module(module).create_app()
    assert list(tmp_path.iterdir()) == []  # refused before it made anything

    monkeypatch.setenv("AIRSCOPE_ENVIRONMENT", "staging")
    assert importlib.import_module(module).create_app().state.faults is not None


@pytest.mark.parametrize("module", STANDINS)
def test_a_stand_in_process_exits_in_production_naming_the_variable(module, free_port):
    env = {**os.environ, "AIRSCOPE_ENVIRONMENT": "production"}
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", f"{module}:create_app", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "AIRSCOPE_ENVIRONMENT=production" in done.stderr
