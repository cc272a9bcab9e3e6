"""The error budgets: how much of each SLO's 30-day budget is left for every service, and for the
service the ``service`` variable chooses, per SLI, how fast it burns against the factors the
burn-rate alerts fire at, the SLI over the period against its objective, and the bad requests
that spend it, minute by minute.

Every figure is a recording rule's (``settings.slo_*``): the budget and the SLI over the period
come from the per-minute counts of requests and bad requests (``airscope slo`` sums the same
series), not from a 30-day ``increase`` a dashboard would recompute at every refresh.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from airscope.catalog import Catalog
from airscope.stack import settings
from airscope.stack.grafana.dashboards import panels, service
from airscope.stack.grafana.dashboards.panels import prom, rule

UID = "airscope-slo"
TITLE = "airscope / SLO error budgets"

ONLY = 'service="$service"'
# The burn rates shown: the fast page's, the slow page's and the slowest warning's long windows
# (the ones `airscope slo` reports too).
BURN_WINDOWS = ("1h", "6h", "3d")
# The error-budget policy's steps (docs/slo.md) as colours of the share left: green down to half
# the budget, yellow to a quarter, orange to none, red once overspent.
POLICY = panels.thresholds((0.0, "orange"), (0.25, "yellow"), (0.5, "green"), base="red")
NO_REQUESTS = "no requests"  # the budget rule records nothing for a service without requests
BAD = "red"  # bad requests, and the objective an SLI must stay above
COLOURS = (
    "Colours: the error-budget policy's steps (docs/slo.md#error-budget-policy): green from 50% left, "
    "yellow under 50%, orange under 25%, red once spent."
)


def _fixed(colour: str) -> dashboard.FieldColor:
    return dashboard.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color(colour)


def _alert_of(window: str) -> tuple[str, float] | None:
    """The (severity, factor) of the burn-rate alert whose long window this is, if any."""
    for severity, long, _short, factor, _for in settings.BURN_RATE_ALERTS:
        if long == window:
            return severity, factor
    return None


def _burn_legend(window: str) -> str:
    alert = _alert_of(window)
    if alert is None:
        return window
    severity, factor = alert
    verb = "pages" if severity == "critical" else "warns"
    return f"{window} ({verb} above {factor:g})"


def _factor_lines():
    """A dashed line at each shown window's alert factor: red where it pages, orange where it warns."""
    colours = {"critical": "red", "warning": "orange"}
    steps = sorted(
        (alert[1], colours[alert[0]]) for window in BURN_WINDOWS if (alert := _alert_of(window)) is not None
    )
    return panels.thresholds(*steps)


def _sli_over_period(sli: str) -> str:
    """The SLI over the SLO period, from the budget left: remaining = 1 - bad share / (1 - objective)."""
    remaining = rule(settings.slo_budget_remaining(sli), ONLY)
    objective = rule(settings.slo_objective(sli), ONLY)
    return f"1 - (1 - {remaining}) * on (service) (1 - {objective})"


def _every_service(sli: str):
    return (
        panels.stat_panel(
            f"{sli.capitalize()} budget left, every service",
            [prom(rule(settings.slo_budget_remaining(sli)), "{{service}}", instant=True)],
            unit="percentunit",
            width=panels.WIDTH,
            steps=POLICY,
            no_value=NO_REQUESTS,
            description=(
                f"The share of each service's {settings.SLO_PERIOD} {sli} error budget left (100%: "
                "untouched, 0: spent, below 0: overspent), as `airscope slo` reports it; a service that "
                f"served no request in the period shows none. {COLOURS}"
            ),
        )
        # Tenths of a percentage point: the budget is held to ground truth that closely, no closer.
        .decimals(1)
    )


def _budget_left(sli: str):
    return (
        panels.stat_panel(
            f"{sli.capitalize()} budget left",
            [prom(rule(settings.slo_budget_remaining(sli), ONLY), sli)],
            unit="percentunit",
            width=4,
            height=8,
            steps=POLICY,
            no_value=NO_REQUESTS,
            description=(
                f"The share of the {settings.SLO_PERIOD} {sli} error budget left now; the line is how "
                f"it went over the time range. {COLOURS}"
            ),
        )
        .graph_mode(common.BigValueGraphMode.AREA)
        .decimals(1)
    )


def _burn_rate(sli: str):
    return panels.timeseries_panel(
        f"{sli.capitalize()} burn rate ({', '.join(BURN_WINDOWS)})",
        [
            prom(rule(settings.slo_burn_rate(sli, window), ONLY), _burn_legend(window))
            for window in BURN_WINDOWS
        ],
        unit="none",
        width=7,
        steps=_factor_lines(),
        description=(
            f"How fast the {settings.SLO_PERIOD} {sli} budget burns over each window: 1 spends it exactly "
            "over the period. Dashed lines: the factor each window's alert fires at (with its short "
            "window also above it, for its `for`): red pages, orange warns."
        ),
    )


def _sli(sli: str):
    objective = [
        model.DynamicConfigValue(id_val="color", value=_fixed(BAD).build()),
        model.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 10]}),
        model.DynamicConfigValue(id_val="custom.fillOpacity", value=0),
    ]
    return panels.timeseries_panel(
        f"{sli.capitalize()} SLI over {settings.SLO_PERIOD} vs objective",
        [
            prom(_sli_over_period(sli), "SLI"),
            prom(rule(settings.slo_objective(sli), ONLY), "objective"),
        ],
        unit="percentunit",
        width=7,
        description=(
            f"The share of good requests over the last {settings.SLO_PERIOD} at each moment, and the "
            "catalog's objective (dashed): below it, the budget is overspent."
        ),
    ).override_by_query(panels.REFS[1], objective)


def _bad_requests(sli: str):
    what = "answered 5xx or 499" if sli == "availability" else "slower than the SLO's threshold"
    return (
        panels.timeseries_panel(
            f"{sli.capitalize()} bad requests per minute",
            [prom(rule(settings.slo_step_errors(sli), ONLY), "bad requests")],
            unit="none",
            width=6,
            bars=True,
            description=(
                f"Requests {what} in each minute, probes left out: what the budget is spent by, as "
                f"the budget counts them (one count per {settings.SLO_BUDGET_STEP})."
            ),
        )
        # One bar per recorded count: a finer step would draw each minute's count several times.
        .interval(settings.SLO_BUDGET_STEP)
        .axis_soft_min(0)  # counts: a bar's height from zero, not from the quietest minute's
        .color_scheme(_fixed(BAD))
    )


def _requests():
    return (
        panels.timeseries_panel(
            "Requests per minute the budgets count",
            [prom(rule(settings.slo_step_requests(), ONLY), "requests")],
            unit="none",
            width=panels.WIDTH,
            height=6,
            bars=True,
            description=(
                "All requests of each minute, probes and scrapes left out: a budget allows (1 - objective) "
                "of them to be bad."
            ),
        )
        .interval(settings.SLO_BUDGET_STEP)
        .axis_soft_min(0)
    )


def build(catalog: Catalog):
    board = (
        panels.board(
            UID,
            TITLE,
            f"Each service's {settings.SLO_PERIOD} error budgets: left, burn rates, SLIs and bad requests.",
            tags=["slo"],
        )
        .with_variable(service.variable(catalog))
        .link(panels.link("This service's dashboard", f"/d/{service.UID}", include_vars=True))
        # Budgets move slowly and are recorded once a minute.
        .time("now-6h", "now")
        .refresh("1m")
    )
    rows = [
        ("Every service", [_every_service(sli) for sli in settings.SLIS]),
        *(
            (
                f"{sli.capitalize()}: $service",
                [_budget_left(sli), _burn_rate(sli), _sli(sli), _bad_requests(sli)],
            )
            for sli in settings.SLIS
        ),
        ("Requests: $service", [_requests()]),
    ]
    return panels.with_rows(board, rows)
