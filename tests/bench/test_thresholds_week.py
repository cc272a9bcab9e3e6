"""`airscope thresholds` against a real Prometheus (Debian's binary) holding a made-up week: the recorded
p95 and request counts backfilled with `promtool tsdb create-blocks-from openmetrics`, so the PromQL
of docs/thresholds.md runs as it would on production's Prometheus."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from airscope import catalog
from airscope.bench import thresholds
from airscope.bench.result import JSON_PATH, Result
from airscope.cli import main
from airscope.errors import AirscopeError
from airscope.gen import thresholds as page
from airscope.promapi import Prometheus
from airscope.stack import settings
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]

STEP = 300  # a sample every 5 minutes: what the 5-minute recording rule's values look like, thinned
P95 = settings.LATENCY_QUANTILE
COUNT = "http_server_request_duration_seconds_count"


def _week(now: int) -> str:
    """OpenMetrics text of a week: each service's recorded p95 and its request counter."""
    start = now - 7 * 86400 + STEP
    times = range(start, now - STEP, STEP)
    # service -> (p95 most of the time, p95 one window in four: a slow night), requests per sample
    shapes = {
        "airtable-gateway": (0.7, 3.0, 100),  # waits on Airtable, and measured above its SLO's 1 s
        "platform-services": (0.05, 0.2, 100),  # waits on nothing: 4 x 50 ms, raised to the 0.25 s floor
        "mcp-server": (0.02, 0.05, 100),  # waits on Airtable through airtable-gateway: its SLO's 1 s
        "api-gateway": (0.3, 0.9, 100),  # 4 x 0.3 s as a bucket is 2.5 s; its SLO's 10 s applies
    }
    lines = [f"# TYPE {P95} gauge"]
    for service, (usual, slow, _) in shapes.items():
        for i, t in enumerate(times):
            value = slow if i % 4 == 3 else usual
            lines.append(f'{P95}{{service="{service}",quantile="0.95"}} {value} {t}')
    # saga-orchestrator's few requests (below) were quick.
    lines += [f'{P95}{{service="saga-orchestrator",quantile="0.95"}} 0.01 {t}' for t in times]
    lines.append(f"# TYPE {COUNT} gauge")
    for service, (_, _, per_sample) in shapes.items():
        for i, t in enumerate(times):
            lines.append(
                f'{COUNT}{{job="services",service="{service}",route="/x",status="200"}} {i * per_sample} {t}'
            )
    # saga-orchestrator: 10 requests all week, but its scrapes by the thousand: left out, too few.
    for i, t in enumerate(times):
        lines.append(
            f'{COUNT}{{job="services",service="saga-orchestrator",route="/sagas",status="202"}} {min(i, 10)} {t}'
        )
        lines.append(
            f'{COUNT}{{job="services",service="saga-orchestrator",route="/metrics",status="200"}} {i * 1000} {t}'
        )
    return "\n".join([*lines, "# EOF", ""])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[str]:
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("Debian's prometheus and promtool are not installed")
    tmp = tmp_path_factory.mktemp("week")
    (tmp / "week.om").write_text(_week(int(time.time())))
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(tmp / "week.om"), str(tmp / "tsdb")],
        check=True,
        capture_output=True,
    )
    (tmp / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    port = free_port()
    with (tmp / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        with Prometheus(url) as client:
            wait_until(client.ready, 30, message="Prometheus ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_command_proposes_the_bench_rule_from_a_recorded_week(prometheus: str) -> None:
    result = CliRunner().invoke(main, ["thresholds", "--prometheus-url", prometheus, "--json"])
    assert result.exit_code == 0, result.output
    found = {p["service"]: p for p in json.loads(result.output)}
    assert set(found) == set(catalog.load().services)

    airtable = found["airtable-gateway"]
    assert airtable["p95_seconds"] == pytest.approx(0.7)  # the median: the slow nights left aside
    assert (airtable["measured_seconds"], airtable["proposed_seconds"], airtable["source"]) == (
        5.0,  # 4 x 0.7 s = 2.8 s, as a bucket
        5.0,
        thresholds.MEASURED,
    )
    platform = found["platform-services"]
    assert (platform["proposed_seconds"], platform["source"]) == (0.25, thresholds.MEASURED)
    assert not platform["waits_on_saas"]
    for name in ("mcp-server", "api-gateway"):
        assert found[name]["source"] == thresholds.SLO_FLOOR
        assert found[name]["proposed_seconds"] == found[name]["slo_seconds"]
    # The probes left out: 10 requests in a week is too few for a p95, whatever its scrapes.
    saga = found["saga-orchestrator"]
    assert saga["requests"] == 10
    assert (saga["proposed_seconds"], saga["source"]) == (None, thresholds.NO_DATA)
    assert found["frontend"]["source"] == thresholds.NO_DATA
    assert airtable["in_catalog_seconds"] == catalog.load().services["airtable-gateway"].high_latency_seconds


def test_the_table_shows_proposals_beside_the_catalog_and_the_queries(prometheus: str) -> None:
    result = CliRunner().invoke(main, ["thresholds", "--prometheus-url", prometheus, "--range", "7d"])
    assert result.exit_code == 0, result.output
    assert "| airtable-gateway | " in result.output and "| measured | 2.5 s |" in result.output
    assert "quantile_over_time(0.5, " in result.output


def test_a_range_that_is_not_promql_is_refused() -> None:
    result = CliRunner().invoke(
        main, ["thresholds", "--prometheus-url", "http://127.0.0.1:1", "--range", "a week"]
    )
    assert result.exit_code == 2 and "a PromQL range" in result.output


def test_the_generated_page_says_where_each_services_threshold_comes_from() -> None:

    kept = Result.read(ROOT / JSON_PATH)
    services = catalog.load().services
    text = page.render(catalog.load(), kept)
    measured = thresholds.measured(kept)
    for name in services:
        (row,) = [line for line in text.splitlines() if line.startswith(f"| {name} | ")]
        assert f" | {thresholds.source(name, measured.get(name), services)} | " in row
    # The count: airtable-gateway and platform-services measured, five at their SLO floor, frontend none.
    assert (
        thresholds.source("airtable-gateway", measured["airtable-gateway"], services) == thresholds.MEASURED
    )
    assert thresholds.source("api-gateway", measured["api-gateway"], services) == thresholds.SLO_FLOOR
    assert thresholds.source("frontend", measured.get("frontend"), services) == thresholds.NO_DATA
    assert thresholds.week_queries()["p95"] in text


def test_an_alert_without_a_stated_source_fails_the_generator(monkeypatch) -> None:

    known = page._alerts()
    del known["DiskSpaceFillingUp"]
    monkeypatch.setattr(page, "_alerts", lambda: known)
    with pytest.raises(AirscopeError, match="DiskSpaceFillingUp"):
        page.alert_table(catalog.load())
