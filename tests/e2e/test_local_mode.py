"""Local mode as an operator uses it: Prometheus scrapes every service with its `service` label,
`airscope status` is green, `scale` adds and removes a target, and Redis going away turns its
dependents' health to 503 until it is back. On the platform `airscope up` starts (conftest.py)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from click.testing import CliRunner

from airscope import catalog
from airscope.cli import main
from tests.e2e.conftest import Platform, eventually

PATIENCE = 45.0  # a start or a restart under supervisord's back-off

pytestmark = pytest.mark.infra


def query(platform: Platform, promql: str) -> list[dict]:
    answer = httpx.get(platform["prometheus"] + "/api/v1/query", params={"query": promql}, timeout=5)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def test_prometheus_scrapes_every_service_with_its_service_label(platform: Platform):
    services = set(catalog.load().services)

    def all_up() -> None:
        up = {r["metric"]["service"]: r["value"][1] for r in query(platform, 'up{job="services"}')}
        assert up == dict.fromkeys(services, "1"), up

    eventually(all_up, timeout=PATIENCE)
    for name in services:
        assert httpx.get(platform[name] + "/health", timeout=5).status_code == 200, name


def test_status_exits_zero_when_all_is_healthy(platform: Platform):
    def healthy() -> dict:
        result = CliRunner().invoke(main, ["status", "--json"])
        report = json.loads(result.output)
        assert result.exit_code == 0, report
        return report

    report = eventually(healthy, timeout=PATIENCE)
    assert {row["service"] for row in report["services"]} == set(catalog.load().services)
    assert all(row["up"] == 1 and row["health"] == "pass" for row in report["services"])


def test_scale_adds_a_target_prometheus_finds_and_removes_it_again(platform: Platform):
    def targets() -> set[str]:
        return {r["metric"]["instance"] for r in query(platform, 'up{job="services", service="mcp-server"}')}

    result = CliRunner().invoke(main, ["scale", "mcp-server", "2"])
    assert result.exit_code == 0, result.output
    try:
        began = time.monotonic()
        eventually(lambda: _assert_equal(targets(), {"mcp-server", "mcp-server@2"}), timeout=30)
        print(f"mcp-server@2 discovered {time.monotonic() - began:.1f}s after scale")
    finally:
        result = CliRunner().invoke(main, ["scale", "mcp-server", "1"])
    assert result.exit_code == 0, result.output
    eventually(lambda: _assert_equal(targets(), {"mcp-server"}), timeout=30)


def test_redis_down_fails_its_dependents_health_and_its_return_heals_them(platform: Platform):
    dependents = [s.name for s in catalog.load().services.values() if "redis" in s.requires]
    assert CliRunner().invoke(main, ["stop", "redis"]).exit_code == 0
    try:

        def failing() -> None:
            for name in dependents:
                assert httpx.get(platform[name] + "/health", timeout=5).status_code == 503, name
            checks = query(platform, 'health_check_status{job="services", check="redis"}')
            assert {r["metric"]["service"]: r["value"][1] for r in checks} == dict.fromkeys(dependents, "0")

        eventually(failing, timeout=PATIENCE)
    finally:
        result = CliRunner().invoke(main, ["start", "redis"])
        assert result.exit_code == 0, result.output

    def healed() -> None:
        for name in dependents:
            assert httpx.get(platform[name] + "/health", timeout=5).status_code == 200, name
        checks = query(platform, 'health_check_status{job="services", check="redis"}')
        assert {r["value"][1] for r in checks} == {"1"}

    eventually(healed, timeout=PATIENCE)


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected, actual


def test_a_request_is_one_trace_across_services_and_its_logs_are_found_by_its_trace_id(platform: Platform):
    answer = httpx.post(
        platform.api + "/chat",
        headers={"X-API-Key": "e2e-test-key"},
        json={"message": "List the bases"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    trace_id = answer.headers["x-trace-id"]

    def traced() -> dict:
        result = CliRunner().invoke(main, ["trace", trace_id, "--json"])
        assert result.exit_code == 0, result.output
        trace = json.loads(result.output)
        # Every process exports its spans on its own schedule: the trace fills in over seconds.
        assert {"api-gateway", "llm-orchestrator", "mcp-server", "airtable-gateway"} <= set(trace["services"])
        return trace

    eventually(traced, timeout=PATIENCE)

    def logged() -> set[str]:
        result = CliRunner().invoke(main, ["logs", "--trace", trace_id, "--json", "--limit", "0"])
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.output.splitlines() if line.strip()]
        assert all(line["trace_id"] == trace_id for line in lines)
        services = {line["service"] for line in lines}
        assert {"api-gateway", "llm-orchestrator"} <= services, services
        return services

    eventually(logged, timeout=PATIENCE)
