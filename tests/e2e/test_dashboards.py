"""The dashboards against the whole local platform after a short known load: every Prometheus panel
query has data, the gateway counted exactly what the load sent, and its p95 per route is within one
bucket of the client's (the short version of `airscope check --live`)."""

from __future__ import annotations

from airscope import gen
from airscope.stack.checks import live
from tests.e2e.conftest import API_KEY, Platform


def test_dashboards_have_data_and_match_the_load_that_made_it(platform: Platform):
    report = live.run(gen.checkout(), platform["prometheus"], platform["api-gateway"], API_KEY, 20, 5)
    assert report.sent > 50
    assert report.counts == []
    assert report.p95 == []
    assert report.empty == [], "\n".join(report.empty)
