"""The terminal view of budgets: within 80 columns, SLOs under their services in the order of their
worst SLO, figures as a reader compares them, and what the data does not cover said."""

from __future__ import annotations

from airscope.slo.view import render
from tests.slo.samples import WINDOW, budget


def test_the_table_as_a_terminal_shows_it():
    found = [
        budget(
            "automation-services",
            "latency",
            remaining=-17.187,
            objective=0.99,
            burn_rates={"1h": 18.0, "6h": 4.25, "3d": 0.0},
            exhaustion_seconds=0.0,
        ),
        budget(
            "api-gateway",
            "availability",
            remaining=0.787,
            burn_rates={"1h": 20.0, "6h": 4.0, "3d": 1.2},
            exhaustion_seconds=27_600,
        ),
        budget(
            "automation-services", "availability", remaining=1.0, burn_rates={"1h": 0.0, "6h": 0.0, "3d": 0.0}
        ),
        budget("api-gateway", "latency", remaining=1.0, objective=0.99),
        budget("frontend", "availability", remaining=None),
        budget("frontend", "latency", remaining=None),
    ]
    assert render(found, "http://prometheus:9090") == (
        "Error budgets over the last 30d, worst first (http://prometheus:9090)\n"
        "\n"
        "SLO             TARGET   ACTUAL      LEFT  OUTAGE  BURN 1h/6h/3d  EMPTY IN\n"
        "automation-services\n"
        "  latency          99%   81.81%  -1718.7%   -5d3h       18/4.2/0     spent\n"
        "  availability   99.5%  100.00%      100%   3h36m          0/0/0         -\n"
        "api-gateway\n"
        "  availability   99.5%   99.89%     78.7%   2h50m     20/4.0/1.2     7h40m\n"
        "  latency          99%  100.00%      100%   7h12m    1.0/1.0/1.0         -\n"
        "\n"
        "LEFT: share of the error budget left; OUTAGE: the full outage it still buys at\n"
        "the window's average traffic (below 0: overspent by; --json: in bad requests\n"
        "too); BURN: how fast it goes, 1 = exactly spent over the last 30d; EMPTY IN:\n"
        "when it is spent at the 1h burn rate.\n"
        "No requests in the last 30d: frontend."
    )


def test_every_line_fits_80_columns_whatever_the_figures():
    found = [
        budget(
            "automation-services",
            "availability",
            remaining=-123456.7,
            objective=0.9999,
            burn_rates={"1h": 12345.0, "6h": 999.0, "3d": 123.0},
            exhaustion_seconds=0.0,
        ),
        budget("a-service-name-longer-than-any-in-the-catalog", "latency", remaining=0.5),
    ]
    assert max(len(line) for line in render(found, "http://localhost:9090").splitlines()) <= 80


def test_a_miss_by_a_hair_shows_in_the_actual_figure():
    # 99.48% against 99.5%: two decimals; 99.94% against 99.95%: three.
    lines = render(
        [budget(remaining=-0.04), budget("mcp-server", remaining=-0.2, objective=0.9995)], "p"
    ).splitlines()
    assert "   99.48%  " in lines[4] and "  99.940%  " in lines[6]


def test_data_over_part_of_the_window_is_said():
    partial = budget(covered_seconds=2 * 3600 + 13 * 60)
    assert "Data covers only 2h13m of the last 30d: the figures read the rest of the" in render(
        [partial], "p"
    )
    assert "Data covers" not in render([budget(covered_seconds=WINDOW)], "p")


def test_no_requests_at_all_asks_whether_this_is_the_right_prometheus():
    assert render([budget(remaining=None)], "http://x:9090") == (
        "Error budgets over the last 30d, worst first (http://x:9090)\n"
        "\n"
        "No SLO had requests in the last 30d: is the platform loaded, and does this\n"
        "Prometheus record airscope's SLO rules (group airscope-slo-budget)?"
    )


def test_a_calendar_month_is_named_as_such():
    assert render([budget(window="2026-11")], "p").startswith("Error budgets over 2026-11, worst first (p)")
