"""The SLO dashboard: generated and loaded with the others, every panel reading the SLO recording rules
that stack.settings names, the budget left per service and SLI coloured at the error-budget policy's
steps, the burn rates against their alerts' factors, and the SLI over the period (derived from the
recorded budget) equal to the share of good requests of synthetic series (run by promtool)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from airscope import catalog, stack
from airscope.stack import grafana, settings
from airscope.stack.checks import promql
from airscope.stack.grafana.dashboards import slo

RECORDING_PATH = "deploy/prometheus/rules/recording.yml"
ONLY = 'service="$service"'

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not on PATH")


def dashboard() -> dict:
    return json.loads(grafana.generate(catalog.load())[grafana.dashboard_path(slo.UID)])


def panels() -> list[dict]:
    return [panel for panel in grafana.walk_panels(dashboard()) if panel["type"] != "row"]


def panel(title: str) -> dict:
    (found,) = [p for p in panels() if p["title"] == title]
    return found


def exprs(found: dict) -> list[str]:
    return [target["expr"] for target in found["targets"]]


def steps(found: dict) -> list[tuple[float | None, str]]:
    return [
        (step["value"], step["color"]) for step in found["fieldConfig"]["defaults"]["thresholds"]["steps"]
    ]


def recorded() -> set[str]:
    groups = yaml.safe_load(stack.generate()[RECORDING_PATH])["groups"]
    return {rule["record"] for group in groups for rule in group["rules"]}


def test_it_is_one_of_the_dashboards_grafana_loads():
    uids = {board.build().uid for board in grafana.dashboards.build_all(catalog.load())}
    assert slo.UID in uids
    assert grafana.dashboard_path(slo.UID) in stack.generate()
    service = next(v for v in dashboard()["templating"]["list"] if v["name"] == "service")
    assert service["query"].split(",") == list(catalog.load().services)


def test_every_panel_reads_only_the_slo_recording_rules_settings_names():
    named = {settings.slo_step_requests()}
    for sli in settings.SLIS:
        named |= {
            settings.slo_budget_remaining(sli),
            settings.slo_objective(sli),
            settings.slo_step_errors(sli),
        }
        named |= {settings.slo_burn_rate(sli, window) for window in slo.BURN_WINDOWS}
    assert named <= recorded()
    read: set[str] = set()
    for found in panels():
        assert found["targets"], found["title"]
        for expr in exprs(found):
            names = promql.metric_names(expr)
            assert names and names <= named, (found["title"], expr)
            read |= names
    assert read == named


@pytest.mark.parametrize("sli", settings.SLIS)
def test_the_budget_left_is_shown_per_service_and_sli_at_the_policys_steps(sli: str):
    policy = [(None, "red"), (0.0, "orange"), (0.25, "yellow"), (0.5, "green")]
    every = panel(f"{sli.capitalize()} budget left, every service")
    assert exprs(every) == [settings.slo_budget_remaining(sli)]  # every service, one value each
    assert every["targets"][0]["legendFormat"] == "{{service}}"
    chosen = panel(f"{sli.capitalize()} budget left")
    assert exprs(chosen) == [f"{settings.slo_budget_remaining(sli)}{{{ONLY}}}"]
    for found in (every, chosen):
        assert found["type"] == "stat"
        assert found["fieldConfig"]["defaults"]["unit"] == "percentunit"
        assert steps(found) == policy


@pytest.mark.parametrize("sli", settings.SLIS)
def test_the_burn_rates_are_drawn_against_the_factors_their_alerts_fire_at(sli: str):
    found = panel(f"{sli.capitalize()} burn rate (1h, 6h, 3d)")
    assert exprs(found) == [f"{settings.slo_burn_rate(sli, w)}{{{ONLY}}}" for w in ("1h", "6h", "3d")]
    factors = {long: (severity, factor) for severity, long, _, factor, _ in settings.BURN_RATE_ALERTS}
    legends = [target["legendFormat"] for target in found["targets"]]
    assert legends == ["1h (pages above 14.4)", "6h (pages above 6)", "3d (warns above 1)"]
    lines = sorted(
        (factor, "red" if severity == "critical" else "orange")
        for severity, factor in (factors[w] for w in ("1h", "6h", "3d"))
    )
    assert steps(found)[1:] == lines
    assert found["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}


@pytest.mark.parametrize("sli", settings.SLIS)
def test_bad_requests_are_one_bar_per_recorded_minute(sli: str):
    found = panel(f"{sli.capitalize()} bad requests per minute")
    assert exprs(found) == [f"{settings.slo_step_errors(sli)}{{{ONLY}}}"]
    assert found["interval"] == settings.SLO_BUDGET_STEP
    assert found["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "bars"


# --- the SLI over the period, from the recorded budget, on synthetic series --------------------------

# api-gateway (objective 99.5% available, 99% under 10 s), scraped every 15 s for an hour: 60
# requests a minute for 50 minutes, one of them a 500 in each of the first 10 minutes, one of them
# slower than 10 s in each of the 50; then no traffic. The health probe's 500s count for nothing.
GATEWAY = 'job="services", service="api-gateway", route="/api/chat"'
PROBE = 'job="services", service="api-gateway", route="/health"'
REQUESTS, BAD, SLOW = 3000 + 10, 10, 50


def input_series() -> list[dict]:
    def counter(series: str, per_scrape: float, scrapes: int) -> dict:
        """Grows by ``per_scrape`` for ``scrapes`` scrapes, then stays, up to the hour's 240th."""
        top = 1000 + per_scrape * scrapes
        return {"series": series, "values": f"1000+{per_scrape}x{scrapes - 1} {top}x{240 - scrapes}"}

    count, bucket = (
        "http_server_request_duration_seconds_count",
        "http_server_request_duration_seconds_bucket",
    )
    return [
        counter(f'{count}{{{GATEWAY}, status="200"}}', 15, 200),
        counter(f'{bucket}{{{GATEWAY}, status="200", le="10.0"}}', 14.75, 200),
        counter(f'{count}{{{GATEWAY}, status="500"}}', 0.25, 40),
        counter(f'{bucket}{{{GATEWAY}, status="500", le="10.0"}}', 0.25, 40),
        counter(f'{count}{{{PROBE}, status="500"}}', 1, 240),
        counter(f'{bucket}{{{PROBE}, status="500", le="10.0"}}', 1, 240),
    ]


def promtool_case(rules: str) -> dict:
    gateway = catalog.load().services["api-gateway"].slo
    truth = {
        "availability": (1 - BAD / REQUESTS, gateway.objective("availability")),
        "latency": (1 - SLOW / REQUESTS, gateway.objective("latency")),
    }
    tests = []
    for sli, (good_share, objective) in truth.items():
        sli_expr, objective_expr = exprs(
            panel(f"{sli.capitalize()} SLI over {settings.SLO_PERIOD} vs objective")
        )
        budget_expr = exprs(panel(f"{sli.capitalize()} budget left"))[0]
        budget = 1 - (1 - good_share) / (1 - objective)
        for expr, value in ((sli_expr, good_share), (objective_expr, objective), (budget_expr, budget)):
            # Within a millionth: the counts are whole requests, the rest is float arithmetic.
            tests.append(
                {
                    "expr": f"abs(({expr.replace('$service', 'api-gateway')}) - {value!r}) < bool 1e-6",
                    "eval_time": "60m",
                    "exp_samples": [{"labels": '{service="api-gateway"}', "value": 1}],
                }
            )
    return {
        "rule_files": [rules],
        "evaluation_interval": "1m",
        "tests": [{"interval": "15s", "input_series": input_series(), "promql_expr_test": tests}],
    }


@needs_promtool
def test_the_sli_and_budget_shown_are_the_share_of_good_requests(tmp_path: Path):
    rules = tmp_path / "recording.yml"
    rules.write_text(stack.generate()[RECORDING_PATH])
    case = tmp_path / "slo-dashboard.test.yml"
    case.write_text(yaml.safe_dump(promtool_case(rules.name), sort_keys=False))
    done = subprocess.run(
        ["promtool", "test", "rules", case.name], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
