"""airscope.slo.budget against a real Prometheus holding three days of known per-minute counts
(Oct 30 - Nov 1, 2026, UTC), each figure checked against the arithmetic done by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from airscope import catalog
from airscope.promapi import Prometheus
from airscope.slo.budget import SLOError, budgets, month_bounds, month_budgets
from tests.slo.history import History, serving

START = datetime(2026, 10, 30, tzinfo=UTC).timestamp()
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
END = START + 3 * 86400  # Nov 2, 00:00
MINUTE = 60.0
# A count stamped t covers the minute before t: the first is stamped START + 1 minute.
STAMPS = [START + MINUTE * k for k in range(1, 3 * 1440 + 1)]
BURN = {
    ("api-gateway", "availability"): {"1h": 20.0, "6h": 4.0, "3d": 1.2},
    ("api-gateway", "latency"): {"1h": 0.5, "6h": 0.4, "3d": 0.3},
    ("mcp-server", "availability"): {"1h": 0.0, "6h": 0.0, "3d": 0.0},
    ("mcp-server", "latency"): {"1h": 0.0, "6h": 0.0, "3d": 0.0},
}


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def availability_errors(t: float) -> float:
    """50 a minute Oct 31 10:00-10:30, 7 in the last minute of October, 20 a minute Nov 1 12:00-12:10."""
    if _at(2026, 10, 31, 10) < t <= _at(2026, 10, 31, 10, 30):
        return 50
    if t == NOV_1:
        return 7
    if _at(2026, 11, 1, 12) < t <= _at(2026, 11, 1, 12, 10):
        return 20
    return 0


def history() -> History:
    """api-gateway: 100 requests a minute for three days; its latency bad 2 a minute Oct 30 until noon.
    mcp-server: 10 requests a minute, none bad, on Nov 1 only. No other service has any data."""
    found = History()
    gateway, mcp = {"service": "api-gateway"}, {"service": "mcp-server"}
    found.add("service:slo_requests:increase1m", gateway, [(t, 100) for t in STAMPS])
    found.add(
        "service:slo_availability_errors:increase1m", gateway, [(t, availability_errors(t)) for t in STAMPS]
    )
    found.add(
        "service:slo_latency_errors:increase1m",
        gateway,
        [(t, 2 if t <= _at(2026, 10, 30, 12) else 0) for t in STAMPS],
    )
    nov_1 = [t for t in STAMPS if t > NOV_1]
    found.add("service:slo_requests:increase1m", mcp, [(t, 10) for t in nov_1])
    for sli in ("availability", "latency"):
        found.add(f"service:slo_{sli}_errors:increase1m", mcp, [(t, 0) for t in nov_1])
    for (service, sli), rates in BURN.items():
        for window, rate in rates.items():
            found.add(
                f"service:slo_{sli}:burn_rate{window}", {"service": service}, [(t, rate) for t in STAMPS]
            )
    return found


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[Prometheus]:
    with serving(history(), tmp_path_factory.mktemp("slo-budget")) as served:
        yield served


def by_slo(found):
    return {(b.service, b.sli): b for b in found}


def test_the_rolling_budget_is_the_counts_of_the_whole_window(prometheus):
    found = budgets(prometheus, catalog.load(), at=END)
    gateway = by_slo(found)["api-gateway", "availability"]
    bad, requests = 1500 + 7 + 200, 100 * 3 * 1440
    allowed = 0.005 * requests
    assert (gateway.requests, gateway.bad_requests) == (requests, bad)
    assert gateway.remaining == pytest.approx(1 - bad / allowed)
    assert gateway.remaining_requests == pytest.approx(allowed - bad)
    assert gateway.sli_value == pytest.approx(1 - bad / requests)
    # 0.5% of 30 days is 216 minutes of full outage; this much of it is left.
    assert gateway.remaining_minutes == pytest.approx((1 - bad / allowed) * 216)
    assert (gateway.window, gateway.start, gateway.end) == ("30d", END - 30 * 86400, END)
    assert gateway.covered_seconds == 3 * 86400
    assert gateway.objective == 0.995 and gateway.reason.startswith("every user request enters here")
    assert gateway.burn_rates == BURN["api-gateway", "availability"]
    # At 20 times the sustainable rate, what is left of 30 days' budget lasts 1/20 of 30 days' share.
    assert gateway.exhaustion_seconds == pytest.approx((1 - bad / allowed) * 30 * 86400 / 20)
    latency = by_slo(found)["api-gateway", "latency"]
    assert latency.bad_requests == 2 * 720 and latency.remaining == pytest.approx(
        1 - 1440 / (0.01 * requests)
    )
    assert latency.exhaustion_seconds is None  # burning at half the sustainable rate


def test_worst_first_and_slos_without_requests_last_saying_so(prometheus):
    found = budgets(prometheus, catalog.load(), at=END)
    assert [(b.service, b.sli) for b in found[:4]] == [
        ("api-gateway", "availability"),
        ("api-gateway", "latency"),
        ("mcp-server", "availability"),
        ("mcp-server", "latency"),
    ]
    assert len(found) == 2 * len(catalog.load().services)
    mcp = by_slo(found)["mcp-server", "availability"]
    assert (mcp.remaining, mcp.requests, mcp.covered_seconds) == (1.0, 14400, 86400)
    for empty in found[4:]:
        assert (empty.requests, empty.remaining, empty.sli_value, empty.compliant) == (0, None, None, None)
        assert empty.remaining_minutes is None and empty.exhaustion_seconds is None
        assert empty.covered_seconds == 0
        assert set(empty.burn_rates.values()) == {None}


def test_one_service(prometheus):
    found = budgets(prometheus, catalog.load(), service="mcp-server", at=END)
    assert [(b.service, b.sli) for b in found] == [("mcp-server", "availability"), ("mcp-server", "latency")]
    with pytest.raises(
        SLOError, match="no service 'nope' in the catalog: name one of airtable-gateway, api-gateway"
    ):
        budgets(prometheus, catalog.load(), service="nope", at=END)


def test_a_calendar_month_counts_its_own_minutes_only(prometheus):
    october = by_slo(month_budgets(prometheus, catalog.load(), "2026-10"))
    november = by_slo(month_budgets(prometheus, catalog.load(), "2026-11"))
    # The count stamped Nov 1 00:00 is October's last minute.
    assert october["api-gateway", "availability"].bad_requests == 1507
    assert november["api-gateway", "availability"].bad_requests == 200
    assert october["api-gateway", "availability"].requests == 100 * 2 * 1440
    assert november["api-gateway", "availability"].requests == 100 * 1440
    spent = october["api-gateway", "availability"]
    assert spent.remaining == pytest.approx(1 - 1507 / 1440) and spent.compliant is False
    kept = november["api-gateway", "availability"]
    assert kept.remaining == pytest.approx(1 - 200 / 720) and kept.compliant is True
    # A month's minutes of outage are of the whole month: 0.5% of 30 days of November.
    assert kept.remaining_minutes == pytest.approx((1 - 200 / 720) * 216)
    assert (kept.window, kept.start, kept.end) == ("2026-11", NOV_1, _at(2026, 12, 1))
    assert kept.covered_seconds == 86400
    assert october["api-gateway", "latency"].remaining == pytest.approx(1 - 1440 / 2880)
    # Data ends Nov 2, so on Dec 1 no burn rate is current.
    assert set(kept.burn_rates.values()) == {None}


def test_the_current_month_ends_now(prometheus):
    now = _at(2026, 11, 1, 12, 5)
    found = by_slo(month_budgets(prometheus, catalog.load(), "2026-11", now=now))
    gateway = found["api-gateway", "availability"]
    assert (gateway.end, gateway.requests, gateway.bad_requests) == (now, 100 * 725, 5 * 20)
    with pytest.raises(SLOError, match="month 2026-12 has not begun"):
        month_budgets(prometheus, catalog.load(), "2026-12", now=now)


def test_month_bounds_and_a_month_mistyped():
    assert month_bounds("2026-02") == (_at(2026, 2, 1), _at(2026, 3, 1))
    assert month_bounds("2026-12") == (_at(2026, 12, 1), _at(2027, 1, 1))
    with pytest.raises(SLOError, match="'2026-13' is not a month: write it YYYY-MM"):
        month_bounds("2026-13")


def test_as_json_is_plain_json(prometheus):
    found = budgets(prometheus, catalog.load(), service="api-gateway", at=END)
    encoded = json.loads(json.dumps([b.as_json() for b in found]))
    assert encoded[0]["service"] == "api-gateway" and encoded[0]["compliant"] is True
    assert encoded[0]["burn_rates"] == BURN["api-gateway", "availability"]
