"""A short `airscope soak` against the whole local platform: every service's memory in every sample,
the samples over the run, no error. The goals themselves are for the long run (30 minutes): a minute
still meets new series after its warm-up (rarer routes and statuses are seen the first time)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from airscope import catalog
from airscope.cli import main
from tests.e2e.conftest import RunningPlatform

pytestmark = pytest.mark.infra


def test_a_short_soak_samples_every_service_and_sees_no_error(platform: RunningPlatform):
    result = CliRunner().invoke(
        main, ["soak", "--duration", "30s", "--sample", "5s", "--rate", "4", "--json"]
    )
    assert result.exit_code in (0, 1), result.output  # 1: a goal missed, judged below
    report = json.loads(result.stdout)
    services = set(catalog.load().services)
    assert set(report["services"]) == services

    samples = report["samples"]
    assert len(samples) >= 7, samples  # at 0, 5 ... 30 s, and once after settling
    assert [s["at"] for s in samples] == sorted(s["at"] for s in samples)
    for sample in samples:
        for service in services:
            assert sample["memory_mib"][service] > 0, (service, sample)
    # A platform this fresh may not have been scraped yet at 0 s; a sample later it has (every 5 s).
    for sample in samples[1:]:
        assert sample["series_by_job"].get("services", 0) > 0 and sample["head_series"] > 0, sample
    assert samples[-1]["sent"] >= 100, samples[-1]  # 4 actions/s for 30 s; some send two requests

    assert report["totals"]["errors"] == 0, report["failed_requests"]
    assert report["totals"]["skipped"] == 0
    goals = {goal["name"]: goal["met"] for goal in report["verdict"]["goals"]}
    assert goals["zero errors, no action skipped"], report["verdict"]["goals"]
    memory = report["verdict"]["memory_mib"]
    assert set(memory) == services and all(growth is not None for growth in memory.values())
    # Progress while it ran: a line per sample on stderr.
    assert result.stderr.count(" errors 0 ") >= len(samples), result.stderr
