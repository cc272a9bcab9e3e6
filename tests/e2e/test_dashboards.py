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
    # The platform is shared with the other end-to-end tests: a request of theirs that the gateway
    # finished inside the window is counted too. More than one such request means a real mismatch.
    extra = [c for c in report.counts if c.startswith("POST /api/chat 200")]
    assert [c for c in report.counts if c not in extra] == []
    assert len(extra) <= 1, extra
    assert report.p95 == []
    assert report.empty == [], "\n".join(report.empty)
