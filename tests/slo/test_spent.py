"""airscope.slo.spent against a real Prometheus holding two days of known per-minute counts (Nov 20 -
21, 2026, UTC): the bad requests of the steps that hold an interval, over the budget of the 30 days
ending with the last of them, checked against the arithmetic done by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from airscope import catalog
from airscope.promapi import Prometheus
from airscope.slo.spent import STEP_SECONDS, spent, steps
from tests.slo.history import History, serving

START = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
MINUTE = 60.0
# A count stamped t covers the minute before t: the first is stamped START + 1 minute.
STAMPS = [START + MINUTE * k for k in range(1, 2 * 1440 + 1)]


def _at(hour: int, minute: int, second: float = 0) -> float:
    """A time of Nov 21, the second day."""
    return datetime(2026, 11, 21, hour, minute, tzinfo=UTC).timestamp() + second


def failing(t: float) -> float:
    """api-gateway's 5xx: 30 a minute in the ten minutes 10:00-10:10 of Nov 21."""
    return 30 if _at(10, 0) < t <= _at(10, 10) else 0


def slow(t: float) -> float:
    """api-gateway's requests slower than its threshold: 4 a minute 10:05-10:07."""
    return 4 if _at(10, 5) < t <= _at(10, 7) else 0


def history() -> History:
    """api-gateway: 100 requests a minute for two days, bad ones as above. mcp-server: 10 a minute,
    none bad. ghost, a service the catalog does not know: 10 a minute, all failing."""
    found = History()
    gateway, mcp, ghost = {"service": "api-gateway"}, {"service": "mcp-server"}, {"service": "ghost"}
    for labels, rate in ((gateway, 100), (mcp, 10), (ghost, 10)):
        found.add("service:slo_requests:increase1m", labels, [(t, rate) for t in STAMPS])
    found.add("service:slo_availability_errors:increase1m", gateway, [(t, failing(t)) for t in STAMPS])
    found.add("service:slo_latency_errors:increase1m", gateway, [(t, slow(t)) for t in STAMPS])
    for sli in ("availability", "latency"):
        found.add(f"service:slo_{sli}_errors:increase1m", mcp, [(t, 0) for t in STAMPS])
    found.add("service:slo_availability_errors:increase1m", ghost, [(t, 10) for t in STAMPS])
    return found


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[Prometheus]:
    with serving(history(), tmp_path_factory.mktemp("slo-spent")) as served:
        yield served


def allowed(objective: float, until: float) -> float:
    """Bad requests api-gateway's SLO allows over the 30 days up to the step stamped ``until``."""
    return (1 - objective) * 100 * (until - START) / MINUTE


def test_an_interval_spends_the_bad_requests_of_every_minute_it_touches(prometheus):
    # 10:00:20 - 10:09:30 touches the minutes stamped 10:01 ... 10:10: all 300 failures, and the
    # 8 slow requests; the window's requests end with the step stamped 10:10.
    found = spent(prometheus, catalog.load(), _at(10, 0, 20), _at(10, 9, 30))
    assert set(found) == {"api-gateway"}  # mcp-server spent nothing; ghost is no catalog service
    assert found["api-gateway"]["availability"] == pytest.approx(300 / allowed(0.995, _at(10, 10)))
    assert found["api-gateway"]["latency"] == pytest.approx(8 / allowed(0.99, _at(10, 10)))


def test_a_moment_inside_one_minute_spends_that_whole_minute(prometheus):
    found = spent(prometheus, catalog.load(), _at(10, 3, 10), _at(10, 3, 50))
    assert found == {"api-gateway": {"availability": pytest.approx(30 / allowed(0.995, _at(10, 4)))}}


def test_an_end_on_a_step_stops_there_and_a_start_on_one_leaves_it_out(prometheus):
    # The step stamped 10:08 holds (10:07, 10:08]: nothing of an interval ending at 10:07:00 sharp,
    # and the one stamped 10:05 nothing of one starting then.
    found = spent(prometheus, catalog.load(), _at(10, 5), _at(10, 7))
    assert found["api-gateway"]["availability"] == pytest.approx(60 / allowed(0.995, _at(10, 7)))
    assert found["api-gateway"]["latency"] == pytest.approx(8 / allowed(0.99, _at(10, 7)))
    assert steps(_at(10, 5), _at(10, 7)) == (_at(10, 5), _at(10, 7) + STEP_SECONDS)


def test_an_interval_without_bad_requests_spends_nothing(prometheus):
    assert spent(prometheus, catalog.load(), _at(11, 0), _at(12, 0)) == {}


def test_the_budget_is_of_the_thirty_days_ending_with_the_interval(prometheus):
    # Two days of data: the window holds all of it up to the interval and nothing after it, so the
    # same 30 failures spend less of a later minute's budget (its window holds 9 minutes more).
    first = spent(prometheus, catalog.load(), _at(10, 0), _at(10, 1))["api-gateway"]["availability"]
    last = spent(prometheus, catalog.load(), _at(10, 9), _at(10, 10))["api-gateway"]["availability"]
    assert first == pytest.approx(30 / (0.005 * 100 * (1440 + 601)))
    assert last == pytest.approx(30 / (0.005 * 100 * (1440 + 610)))
