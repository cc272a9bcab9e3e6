"""`airscope thresholds`: the HighLatency thresholds the bench's rule gives from a Prometheus' recorded
week, beside the catalog's (airscope.bench.thresholds does the work)."""

from __future__ import annotations

import json
import re

import click

from airscope.bench import thresholds
from airscope.promapi import Prometheus

# PromQL's range syntax: a number and a unit, as `quantile_over_time(...[7d])` takes it.
_RANGE = re.compile(r"[1-9][0-9]*[smhdwy]")


def _range(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not _RANGE.fullmatch(value):
        raise click.BadParameter(f"{value!r}: a PromQL range such as 7d, 14d or 168h")
    return value


@click.command("thresholds")
@click.option(
    "--prometheus-url",
    required=True,
    help="A Prometheus (or Mimir's Prometheus API, e.g. http://mimir:9009/prometheus) holding the range.",
)
@click.option(
    "--range",
    "window",
    default="7d",
    show_default=True,
    callback=_range,
    help="How far back: a normal week, without an incident in it.",
)
@click.option("--json", "as_json", is_flag=True, help="One object per service.")
def thresholds_command(prometheus_url: str, window: str, as_json: bool) -> None:
    """Propose each service's catalog `high_latency_seconds` from what Prometheus recorded.

    The rule of `airscope bench` (docs/thresholds.md): the smallest latency bucket at or above 4x the
    service's typical p95, at least 0.25 s, and never below its SLO latency threshold for a service
    that waits on Airtable or the LLM provider. Copy a proposal into
    src/airscope/catalog/catalog.yaml and run `airscope gen`.
    """
    with Prometheus(prometheus_url, timeout=60.0) as prometheus:
        proposals = thresholds.from_prometheus(prometheus, window)
    if as_json:
        click.echo(json.dumps([p.as_json() for p in proposals], indent=2))
        return
    click.echo(thresholds.proposals_table(proposals, window))
    for query in thresholds.week_queries(window).values():
        click.echo(f"\n  {query}", nl=False)
    click.echo()
