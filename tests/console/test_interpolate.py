"""console.interpolate: Grafana's interval rules, its variable syntax and formats, and each data
source's escaping, checked on the dashboards' own variables and on hand-made ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airscope.console.interpolate import (
    ALL,
    Intervals,
    Scope,
    Variable,
    VariableError,
    format_duration,
    format_interval,
    interpolate,
    loki_intervals,
    parse_interval,
    prometheus_intervals,
    round_interval_ms,
    select,
    variables_of,
)
from airscope.console.timerange import TimeRange

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
HOUR = 3_600_000


def span(ms: int) -> TimeRange:
    return TimeRange(1_800_000_000_000 - ms, 1_800_000_000_000, "from", "to")


@pytest.mark.parametrize(
    ("ms", "rounded"),
    [
        (5, 1),
        (12, 10),
        (6_000, 5_000),
        (7_600, 10_000),
        (15_000, 15_000),
        (40_000, 30_000),
        (61_000, 60_000),
        (100_000, 120_000),
        (3_000_000, 3_600_000),
        (30_000_000, 21_600_000),
        (50_000_000, 43_200_000),
        (100_000_000, 86_400_000),
        (1_000_000_000, 604_800_000),
        (10**13, 31_536_000_000),
    ],
)
def test_round_interval_is_grafanas_table(ms: int, rounded: int):
    assert round_interval_ms(ms) == rounded


def test_interval_texts():
    assert [format_interval(ms) for ms in (1, 500, 15_000, 90_000, 7_200_000, 86_400_000 * 2)] == [
        "1ms",
        "500ms",
        "15s",
        "1m",
        "2h",
        "2d",
    ]
    assert [format_duration(ms) for ms in (20_000, 60_000, 75_000, 3_660_500)] == [
        "20s",
        "1m",
        "1m15s",
        "1h1m500ms",
    ]
    assert [parse_interval(t) for t in ("15s", ">10s", "<1m", "30", "500ms", "1.5s")] == [
        15_000,
        10_000,
        60_000,
        30_000,
        500,
        1_500,
    ]
    with pytest.raises(VariableError, match="not a number and a unit"):
        parse_interval("soon")


def test_prometheus_intervals_follow_grafana():
    # 1 h over 600 points is 6 s, rounded to 5 s; the local scrape interval (5 s) allows it.
    assert prometheus_intervals(span(HOUR), 600, scrape_interval="5s") == Intervals(5_000, 5_000, 20_000)
    # Production's 15 s scrape is the lower limit; $__rate_interval is four scrapes.
    assert prometheus_intervals(span(HOUR), 600, scrape_interval="15s") == Intervals(15_000, 15_000, 60_000)
    # 24 h over 600 points: 144 s -> 2m; rate interval 2m + 15s.
    assert prometheus_intervals(span(24 * HOUR), 600, scrape_interval="15s") == Intervals(
        120_000, 120_000, 135_000
    )
    # No maxDataPoints: Grafana's 1500.
    assert prometheus_intervals(span(24 * HOUR), None, scrape_interval="5s").step_ms == 60_000
    # A panel's min interval replaces the scrape interval as the lower limit (not in the rate interval).
    assert prometheus_intervals(span(HOUR), 600, scrape_interval="5s", panel_interval="1m") == Intervals(
        60_000, 60_000, 65_000
    )
    # A target's min step limits the step and is the rate interval's base.
    assert prometheus_intervals(span(HOUR), 600, scrape_interval="5s", min_step="30s") == Intervals(
        30_000, 30_000, 120_000
    )
    assert prometheus_intervals(span(HOUR), 600, scrape_interval="5s", interval_factor=2).step_ms == 10_000
    # Never more than 11 000 points: 30 days at 10 000 points would be 259 s -> 5m.
    assert prometheus_intervals(span(30 * 24 * HOUR), 100_000, scrape_interval="5s").step_ms == 300_000
    assert prometheus_intervals(span(0), 600, scrape_interval="5s").step_ms == 5_000


def test_loki_intervals_follow_grafana():
    assert loki_intervals(span(HOUR), 600) == Intervals(5_000, 5_000, 5_000)
    # The interval may be below a second; the step is not.
    assert loki_intervals(span(60_000), 600) == Intervals(100, 1_000, 100)
    assert loki_intervals(span(HOUR), 600, panel_interval="1m").interval_ms == 60_000


def dashboard(name: str) -> dict:
    return json.loads((DASHBOARDS / f"{name}.json").read_text())


def scope(variables, requested=None, time_range=None, intervals=None) -> Scope:
    return Scope(time_range or span(HOUR), select(variables, requested), intervals)


def test_logs_dashboard_all_is_the_custom_all_value():
    variables = variables_of(dashboard("airscope-logs"))
    assert [v.name for v in variables] == ["service", "level"]
    assert variables[0].include_all and variables[0].multi and variables[0].all_value == ".+"
    expr = '{service=~"$service", level=~"$level"} | json'
    # Missing, and $__all, both mean All, and a custom all value goes in unescaped.
    assert interpolate(expr, scope(variables), "loki") == '{service=~".+", level=~".*"} | json'
    assert (
        interpolate(expr, scope(variables, {"service": [ALL]}), "loki")
        == '{service=~".+", level=~".*"} | json'
    )
    chosen = scope(variables, {"service": ["api-gateway", "mcp-server"], "level": "error"})
    assert interpolate(expr, chosen, "loki") == '{service=~"(api-gateway|mcp-server)", level=~"error"} | json'


def test_service_dashboard_single_value_defaults_to_current():
    variables = variables_of(dashboard("airscope-service"))
    expr = 'service:up:max{service="$service"}'
    assert interpolate(expr, scope(variables), "prometheus") == 'service:up:max{service="api-gateway"}'
    assert interpolate(expr, scope(variables, {"service": ["frontend"]}), "prometheus") == (
        'service:up:max{service="frontend"}'
    )
    # All is not offered: $__all falls back to the first option; extra values of a single-value variable go.
    assert (
        interpolate(expr, scope(variables, {"service": [ALL]}), "prometheus")
        == 'service:up:max{service="api-gateway"}'
    )
    assert interpolate(expr, scope(variables, {"service": ["mcp-server", "frontend"]}), "prometheus") == (
        'service:up:max{service="mcp-server"}'
    )


MULTI = Variable(name="svc", multi=True, include_all=True, options=(("a.b", "a.b"), ("c", "c")))
SINGLE = Variable(name="one", options=(("x", "x"),))


def test_prometheus_and_loki_escaping():
    s = scope([MULTI, SINGLE], {"svc": ["a.b", "c|d"], "one": "it's \\ here"})
    assert interpolate('{x=~"$svc"}', s, "prometheus") == '{x=~"(a\\\\.b|c\\\\|d)"}'
    assert interpolate('{x="$one"}', s, "prometheus") == '{x="it\\\\\'s \\\\ here"}'
    assert interpolate('{x=~"$svc"}', s, "loki") == '{x=~"(a\\\\.b|c\\\\|d)"}'
    # All without a custom all value: every option, escaped, as one regex.
    assert interpolate('{x=~"$svc"}', scope([MULTI]), "prometheus") == '{x=~"(a\\\\.b|c)"}'
    # Tempo (and text with no data source): Grafana's default, glob for several values.
    assert interpolate("$svc", s, "tempo") == "{a.b,c|d}"
    assert interpolate("$one", s) == "it's \\ here"


def test_every_variable_syntax_and_format():
    s = scope([MULTI, SINGLE], {"svc": ["a.b", "c"]})
    assert interpolate("$svc ${svc} [[svc]]", s, "prometheus") == "(a\\\\.b|c) (a\\\\.b|c) (a\\\\.b|c)"
    formats = {
        "raw": "a.b,c",
        "regex": "(a\\.b|c)",
        "pipe": "a.b|c",
        "csv": "a.b,c",
        "json": '["a.b", "c"]',
        "glob": "{a.b,c}",
        "text": "a.b + c",
        "queryparam": "var-svc=a.b&var-svc=c",
        "singlequote": "'a.b','c'",
        "doublequote": '"a.b","c"',
        "sqlstring": "'a.b','c'",
        "lucene": '("a.b" OR "c")',
        "percentencode": "%7Ba.b%2Cc%7D",
    }
    for fmt, expected in formats.items():
        assert interpolate(f"${{svc:{fmt}}}", s, "prometheus") == expected, fmt
    assert interpolate("[[svc:pipe]]", s) == "a.b|c"
    assert interpolate("${svc:text}", scope([MULTI])) == "All"
    with pytest.raises(VariableError, match="'nope' is not a variable format"):
        interpolate("${svc:nope}", s)
    # Unknown variables stay as they are, as in Grafana.
    assert interpolate("$unknown ${other} [[x]]", s) == "$unknown ${other} [[x]]"


def test_builtins():
    time_range = span(HOUR)
    s = Scope(time_range, {}, prometheus_intervals(time_range, 600, scrape_interval="15s"))
    assert (
        interpolate("rate(x[$__rate_interval]) [$__interval] $__interval_ms", s) == "rate(x[1m]) [15s] 15000"
    )
    assert interpolate("${__rate_interval} $__rate_interval_ms", s) == "1m 60000"
    assert interpolate("increase(x[$__range]) $__range_s $__range_ms", s) == "increase(x[3600s]) 3600 3600000"
    assert interpolate("$__from $__to", s) == f"{time_range.from_ms} {time_range.to_ms}"
    assert interpolate("${__to:date:seconds}", s) == str(time_range.to_ms // 1000)
    assert interpolate("${__to:date:iso}", s) == "2027-01-15T08:00:00.000Z"
    # Without intervals (a Tempo target) the interval macros stay.
    assert interpolate("$__interval", Scope(time_range)) == "$__interval"


def test_custom_variable_from_its_query_and_select_defaults():
    variable = Variable.from_json(
        {"name": "env", "type": "custom", "query": "Production : prod,Staging : stage, dev", "current": {}}
    )
    assert variable.options == (("Production", "prod"), ("Staging", "stage"), ("dev", "dev"))
    assert select([variable], None)["env"].values == ("prod",)
    query_variable = Variable.from_json(
        {
            "name": "job",
            "type": "query",
            "query": {"query": "label_values(job)"},
            "includeAll": True,
            "current": {"value": "$__all"},
        }
    )
    chosen = select([query_variable], {}, options_for=lambda v: ["b", "a"])["job"]
    assert chosen.is_all and chosen.variable.values == ("b", "a")
    assert interpolate('{job=~"$job"}', Scope(span(HOUR), {"job": chosen}), "prometheus") == '{job=~"(b|a)"}'


def test_every_generated_target_interpolates_fully():
    """No `$` left in any target of any dashboard after interpolation with the default values."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        data = json.loads(path.read_text())
        variables = variables_of(data)
        stack = list(data["panels"])
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels") or [])
            for target in panel.get("targets") or []:
                kind = (panel.get("datasource") or {}).get("type", "prometheus")
                intervals = (
                    loki_intervals(span(HOUR), 600)
                    if kind == "loki"
                    else prometheus_intervals(span(HOUR), 600)
                )
                text = target.get("expr") or target.get("query") or ""
                done = interpolate(text, scope(variables, intervals=intervals), kind)
                assert "$" not in done, (path.name, panel["title"], done)
