"""The dashboards against the whole local platform after a short known load: every Prometheus panel
query has data, the gateway counted exactly what the load sent, its p95 per route is within one
bucket of the client's, and the domain counters (chats, tokens, tool calls, logins, imports, sagas) are
what the load's answers prove (the short version of `airscope check --live`)."""

from __future__ import annotations

import pytest

from airscope import checkout
from airscope.local import live_check
from airscope.local.live_check.check import BUDGET_WAIT_SECONDS, SETTLE_SECONDS
from tests.e2e.conftest import API_KEY, RunningPlatform

LOAD_SECONDS = 20


# The load, its settling, and on a young platform the wait for the budgets of the services it reached.
@pytest.mark.timeout(LOAD_SECONDS + SETTLE_SECONDS + BUDGET_WAIT_SECONDS + 60)
def test_dashboards_have_data_and_match_the_load_that_made_it(platform: RunningPlatform):
    report = live_check.run(
        checkout.root(), platform["prometheus"], platform["api-gateway"], API_KEY, LOAD_SECONDS, 5
    )
    assert report.sent > 50
    # Exact although the platform is shared with the other end-to-end tests: the window starts once
    # every service has a scrape newer than their last request (live_check.check.wait_for_scrape).
    assert report.counts == [], "\n".join(report.counts)
    assert report.p95 == []
    assert report.empty == [], "\n".join(report.empty)
    assert report.domain == [], "\n".join(report.domain)
