"""`airscope soak`'s verdict without a platform: growth from the first sample after warm-up to the
last, the three goals, services summed over their instances, and the rate taken from the bench."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from airscope.bench import BenchError, soak
from airscope.bench.result import JSON_PATH, Result
from airscope.bench.soak import Growth, Sample

ROOT = Path(__file__).resolve().parents[2]


def test_growth_is_measured_from_the_first_point_after_warm_up_to_the_last():
    # Memory doubles during warm-up (imports, pools), then creeps up 5 %.
    points = [(0, 50.0), (60, 100.0), (120, 100.0), (180, 104.0), (240, 105.0)]
    growth = soak.growth_after(points, warmup=60)
    assert growth == Growth(baseline=100.0, end=105.0)
    assert growth.ratio == pytest.approx(0.05)
    assert soak.growth_after(points, warmup=61).baseline == 100.0  # the first point at or after it
    assert soak.growth_after(points, warmup=0).ratio == pytest.approx(1.1)


def test_growth_needs_two_points_after_warm_up():
    assert soak.growth_after([(0, 1.0), (10, 2.0)], warmup=10) is None
    assert soak.growth_after([], warmup=0) is None
    assert Growth(0.0, 5.0).ratio == 0.0  # nothing to grow from: no division by zero


def test_memory_goal_is_missed_by_any_service_at_or_over_the_limit():
    steady = {"api-gateway": Growth(100.0, 104.0), "mcp-server": Growth(80.0, 79.0)}
    met = soak.memory_goal(steady)
    assert met.met and "api-gateway +4.0%" in met.detail
    leaking = steady | {"llm-orchestrator": Growth(100.0, 110.0)}
    missed = soak.memory_goal(leaking)
    assert not missed.met and missed.detail == "grew too much: llm-orchestrator +10.0%"


def test_memory_goal_is_missed_when_a_service_could_not_be_judged():
    goal = soak.memory_goal({"api-gateway": Growth(100.0, 100.0), "frontend": None})
    assert not goal.met and "fewer than two samples" in goal.detail
    assert not soak.memory_goal({}).met


def test_series_are_flat_under_one_percent():
    assert soak.series_goal(Growth(5000, 5049), {}).met
    assert not soak.series_goal(Growth(5000, 5050), {}).met
    assert not soak.series_goal(None, {}).met
    assert soak.series_goal(Growth(5000, 4900), {}).met  # stale series leaving is not growth


def test_series_goal_names_the_jobs_that_grew():
    by_job = {"services": Growth(4000, 4060), "node": Growth(600, 614), "redis": Growth(50, 50)}
    goal = soak.series_goal(Growth(4050, 4110), by_job)
    assert not goal.met
    assert goal.detail == "4050 -> 4110 series (+1.48%); by job: services +60, node +14 (not judged)"


def test_errors_goal_wants_no_error_and_nothing_skipped():
    assert soak.error_goal(0, 0).met
    assert not soak.error_goal(1, 0).met
    assert not soak.error_goal(0, 3).met


def test_service_memory_adds_up_instances_and_leaves_out_other_programs():
    memory = {"mcp-server": 70.0, "mcp-server@2": 65.5, "postgres": 60.0, "api-gateway": 72.0}
    assert soak.service_memory(memory, ["api-gateway", "mcp-server", "frontend"]) == {
        "api-gateway": 72.0,
        "mcp-server": 135.5,
        "frontend": 0.0,
    }


def test_memory_keeps_each_programs_least_reading():
    # The second reading caught a password hash in flight; the third a program that has just ended.
    readings = [
        {"platform-services": 94.0, "api-gateway": 72.0},
        {"platform-services": 128.0, "api-gateway": 71.5},
        {"platform-services": 94.2},
    ]
    assert soak.least_of(readings) == {"platform-services": 94.0, "api-gateway": 71.5}


def _sample(
    at: float, gateway: float, prometheus: float, series: int, errors: int = 0, host_series: int = 600
) -> Sample:
    return Sample(
        at=at,
        sent=int(at),
        errors=errors,
        skipped=0,
        series=series,
        series_by_job={"services": series, "node": host_series},
        head_series=series + host_series,
        memory_mib={"api-gateway": gateway, "prometheus": prometheus},
    )


def test_verdict_judges_services_only_and_reports_the_other_programs():
    samples = [
        _sample(0, 60.0, 50.0, 4000),
        _sample(60, 70.0, 80.0, 5000),
        # Prometheus' head grows by design, the machine mounted filesystems: neither is judged.
        _sample(120, 71.0, 120.0, 5010, host_series=700),
    ]
    result = soak.verdict(samples, ["api-gateway"], warmup=60)
    assert result["met"], result["goals"]
    assert result["memory_mib"]["api-gateway"] == {"baseline": 70.0, "end": 71.0, "growth": 0.0143}
    assert result["other_programs_mib"]["prometheus"]["growth"] == 0.5
    assert result["series"]["growth"] == 0.002
    assert result["series_by_job"]["node"] == {"baseline": 600, "end": 700, "growth": 0.1667}


def test_verdict_is_missed_by_a_late_error_and_by_series_growing_after_warm_up():
    samples = [_sample(0, 60.0, 50.0, 4000), _sample(60, 70.0, 50.0, 5000), _sample(120, 70.0, 50.0, 5100, 1)]
    result = soak.verdict(samples, ["api-gateway"], warmup=60)
    assert not result["met"]
    assert [goal["met"] for goal in result["goals"]] == [True, False, False]


def test_render_prints_every_program_and_each_goal():
    samples = [_sample(0, 60.0, 50.0, 4000), _sample(60, 70.0, 80.0, 5000), _sample(120, 80.0, 90.0, 5000)]
    report = {
        "settings": {"warmup": 60.0},
        "totals": {"sent": 120, "answered": 120, "errors": 0, "skipped": 0},
        "failed_requests": [],
        "samples": [asdict(s) for s in samples],
        "verdict": soak.verdict(samples, ["api-gateway"], warmup=60),
    }
    text = soak.render(report)
    rows = [line.split() for line in text.splitlines()]
    assert ["api-gateway", "70.0", "80.0", "+14.3%"] in rows
    assert ["prometheus", "80.0", "90.0", "+12.5%", "(not", "judged)"] in rows
    assert (
        "MISSED memory growth under 10% after warm-up, every service: grew too much: api-gateway +14.3%"
        in text
    )
    assert "ok     flat series count" in text


def test_the_default_rate_is_half_the_highest_mixed_step_below_the_knee():
    kept = Result.read(ROOT / JSON_PATH)
    assert [s.rate for s in kept.steps_of("mixed")] == [5, 7]
    kept.stopped["mixed"] = "past the knee at 7/s: p95 ..."
    assert soak.sustainable_rate(kept) == 5.0
    kept.stopped["mixed"] = "every rate asked for ran below the knee (up to 7/s)"
    assert soak.sustainable_rate(kept) == 7.0


def test_without_a_step_below_the_knee_the_rate_must_be_given():
    kept = Result.read(ROOT / JSON_PATH)
    kept.stopped["mixed"] = "past the knee at 5/s: p95 ..."
    kept.steps = kept.steps_of("mixed")[:1]
    with pytest.raises(BenchError, match="give --rate"):
        soak.sustainable_rate(kept)
