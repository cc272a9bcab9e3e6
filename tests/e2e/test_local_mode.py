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
from airscope.promapi import Prometheus, Sample
from tests.e2e.conftest import RunningPlatform
from tests.support import wait_until

PATIENCE = 45.0  # a start or a restart under supervisord's back-off

pytestmark = pytest.mark.infra


def query(platform: RunningPlatform, promql: str) -> list[Sample]:
    with Prometheus(platform["prometheus"]) as prometheus:
        return prometheus.query(promql)


def by_service(platform: RunningPlatform, promql: str) -> dict[str, float | None]:
    return {sample.labels["service"]: sample.value for sample in query(platform, promql)}


def test_prometheus_scrapes_every_service_with_its_service_label(platform: RunningPlatform):
    services = set(catalog.load().services)

    def all_up() -> bool:
        up = by_service(platform, 'up{job="services"}')
        assert up == dict.fromkeys(services, 1.0), up
        return True

    wait_until(all_up, timeout=PATIENCE, interval=0.5, message="every service scraped")
    for name in services:
        assert httpx.get(platform[name] + "/health", timeout=5).status_code == 200, name


def test_status_exits_zero_when_all_is_healthy(platform: RunningPlatform):
    def healthy() -> dict:
        result = CliRunner().invoke(main, ["status", "--json"])
        report = json.loads(result.output)
        assert result.exit_code == 0, report
        return report

    report = wait_until(healthy, timeout=PATIENCE, interval=0.5, message="airscope status green")
    assert {row["service"] for row in report["services"]} == set(catalog.load().services)
    assert all(row["up"] == 1 and row["health"] == "pass" for row in report["services"])


def test_scale_adds_a_target_prometheus_finds_and_removes_it_again(platform: RunningPlatform):
    def targets_are(*expected: str) -> bool:
        samples = query(platform, 'up{job="services", service="mcp-server"}')
        instances = {sample.labels["instance"] for sample in samples}
        assert instances == set(expected), instances
        return True

    result = CliRunner().invoke(main, ["scale", "mcp-server", "2"])
    assert result.exit_code == 0, result.output
    try:
        began = time.monotonic()
        wait_until(lambda: targets_are("mcp-server", "mcp-server@2"), timeout=30, interval=0.5)
        print(f"mcp-server@2 discovered {time.monotonic() - began:.1f}s after scale")
    finally:
        result = CliRunner().invoke(main, ["scale", "mcp-server", "1"])
    assert result.exit_code == 0, result.output
    wait_until(lambda: targets_are("mcp-server"), timeout=30, interval=0.5)


def test_redis_down_fails_its_dependents_health_and_its_return_heals_them(platform: RunningPlatform):
    dependents = [s.name for s in catalog.load().services.values() if "redis" in s.requires]
    assert CliRunner().invoke(main, ["stop", "redis"]).exit_code == 0
    try:

        def failing() -> bool:
            for name in dependents:
                assert httpx.get(platform[name] + "/health", timeout=5).status_code == 503, name
            checks = by_service(platform, 'health_check_status{job="services", check="redis"}')
            assert checks == dict.fromkeys(dependents, 0.0), checks
            return True

        wait_until(failing, timeout=PATIENCE, interval=0.5, message="Redis' dependents failing")
    finally:
        result = CliRunner().invoke(main, ["start", "redis"])
        assert result.exit_code == 0, result.output

    def healed() -> bool:
        for name in dependents:
            assert httpx.get(platform[name] + "/health", timeout=5).status_code == 200, name
        checks = by_service(platform, 'health_check_status{job="services", check="redis"}')
        assert set(checks.values()) == {1.0}, checks
        return True

    wait_until(healed, timeout=PATIENCE, interval=0.5, message="Redis' dependents healed")


def test_a_request_is_one_trace_across_services_and_its_logs_are_found_by_its_trace_id(
    platform: RunningPlatform,
):
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

    wait_until(traced, timeout=PATIENCE, interval=0.5, message=f"trace {trace_id} complete")

    def logged() -> set[str]:
        result = CliRunner().invoke(main, ["logs", "--trace", trace_id, "--json", "--limit", "0"])
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.output.splitlines() if line.strip()]
        assert all(line["trace_id"] == trace_id for line in lines)
        services = {line["service"] for line in lines}
        assert {"api-gateway", "llm-orchestrator"} <= services, services
        return services

    wait_until(logged, timeout=PATIENCE, interval=0.5, message=f"logs of trace {trace_id}")
