"""`airscope slo`, `slo report` and `slo gate`: error budgets from any Prometheus API, the local one by
default (airscope.slo does the work)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from airscope import catalog
from airscope.errors import AirscopeError
from airscope.local import observability, paths
from airscope.local.drills import record as drill_record
from airscope.promapi import TENANT_HEADER, PromAPIError, Prometheus
from airscope.slo import gate as slo_gate
from airscope.slo import view
from airscope.slo.budget import budgets
from airscope.slo.report import month_report

# 30 days of per-minute counts are summed server-side: well under a second locally, more on a busy
# Mimir.
TIMEOUT = 30.0


def _local_url() -> str:
    return f"http://127.0.0.1:{observability.local_ports()['prometheus']}"


def _source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--service, --prometheus and --tenant, on the group and on each subcommand alike."""
    for option in reversed(
        (
            click.option("--service", default=None, help="One service's SLOs [default: every service's]."),
            click.option(
                "--prometheus",
                "prometheus_url",
                default=None,
                metavar="URL",
                help="The Prometheus API to read, e.g. Mimir's http://mimir:9009/prometheus "
                "[default: the local platform's].",
            ),
            click.option(
                "--tenant", default=None, metavar="ORG", help=f"Mimir's tenant, sent as {TENANT_HEADER}."
            ),
        )
    ):
        command = option(command)
    return command


@contextmanager
def _prometheus(ctx: click.Context, url: str | None, tenant: str | None) -> Iterator[Prometheus]:
    """A client of the Prometheus asked for here or on the group, else the local one; not reaching it
    is an error naming the URL and what to check."""
    group = ctx.parent.params if ctx.parent else {}
    url = url or group.get("prometheus_url") or _local_url()
    tenant = tenant or group.get("tenant")
    headers = {TENANT_HEADER: tenant} if tenant else None
    with Prometheus(url, timeout=TIMEOUT, headers=headers) as prometheus:
        try:
            yield prometheus
        except PromAPIError as exc:
            if exc.answered:
                raise
            raise AirscopeError(
                f"{exc}. Locally: is the platform up (`airscope status`)? Another Prometheus or Mimir: "
                "--prometheus URL"
            ) from None


def _service(ctx: click.Context, service: str | None) -> str | None:
    return service or (ctx.parent.params.get("service") if ctx.parent else None)


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print every SLO's budget as JSON.")
@_source_options
@click.pass_context
def slo(
    ctx: click.Context, as_json: bool, service: str | None, prometheus_url: str | None, tenant: str | None
) -> None:
    """Each SLO's error budget over the last 30 days, worst first: the objective, the SLI, the budget
    left (in % and minutes of full outage; in bad requests too with --json), the burn rates over 1h/6h/3d and when the
    budget is spent at the 1h rate. docs/slo.md explains the figures and the policy."""
    if ctx.invoked_subcommand is not None:
        return
    with _prometheus(ctx, prometheus_url, tenant) as prometheus:
        found = budgets(prometheus, catalog.load(), service=service)
        source = prometheus.url
    if as_json:
        click.echo(json.dumps([b.as_json() for b in found], indent=2))
    else:
        click.echo(view.render(found, source))


def _share(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """``25%`` or ``25`` (percent) as a share, 0.25."""
    text = value.strip().removesuffix("%")
    try:
        share = float(text) / 100
    except ValueError:
        raise click.BadParameter(f"{value!r}: a percentage such as 25%") from None
    if not 0 <= share <= 1:
        raise click.BadParameter(f"{value!r}: a percentage from 0% to 100%")
    return share


@slo.command("gate")
@click.option(
    "--min-budget",
    "min_remaining",
    default=f"{slo_gate.DEFAULT_MIN_REMAINING:.0%}",
    show_default=True,
    callback=_share,
    help="The least share of each SLO's 30-day budget left that lets a release out.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict and the SLOs behind it as JSON.")
@_source_options
@click.pass_context
def gate(
    ctx: click.Context,
    min_remaining: float,
    as_json: bool,
    service: str | None,
    prometheus_url: str | None,
    tenant: str | None,
) -> None:
    """May a release go out? Exit 0: every SLO has at least --min-budget of its budget left; 1: one
    has less (blocked); 2: cannot tell (no data, or Prometheus does not answer). One line says why.

    \b
    airscope slo gate --service api-gateway --prometheus http://mimir:9009/prometheus"""
    try:
        with _prometheus(ctx, prometheus_url, tenant) as prometheus:
            found = budgets(prometheus, catalog.load(), service=_service(ctx, service))
    except AirscopeError as exc:
        # A pipeline acts on the exit code: an unanswered question is 2, never a pass or a block.
        click.echo(f"slo gate cannot tell: {exc}")
        raise SystemExit(slo_gate.EXIT_CODES["unknown"]) from None
    result = slo_gate.gate(found, min_remaining)
    click.echo(json.dumps(result.as_json(), indent=2) if as_json else result.line)
    raise SystemExit(result.exit_code)


@slo.command("report")
@click.option(
    "--month",
    default=lambda: datetime.now(UTC).strftime("%Y-%m"),
    show_default="this month",
    metavar="YYYY-MM",
    help="The calendar month (UTC); the current one is reported up to now.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of Markdown.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write it to FILE."
)
@_source_options
@click.pass_context
def report(
    ctx: click.Context,
    month: str,
    as_json: bool,
    out: Path | None,
    service: str | None,
    prometheus_url: str | None,
    tenant: str | None,
) -> None:
    """A month's compliance per SLO, and the alert episodes and drills that spent its budget, each
    with what it spent. Drills are the local platform's own record, so they are in the report of the
    local Prometheus only."""
    local = not (prometheus_url or ctx.parent.params.get("prometheus_url"))
    drills = drill_record.episodes(paths.home()) if local else []
    with _prometheus(ctx, prometheus_url, tenant) as prometheus:
        found = month_report(prometheus, catalog.load(), month, service=_service(ctx, service), drills=drills)
    text = json.dumps(found.as_json(), indent=2) + "\n" if as_json else found.markdown()
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text)
    click.echo(f"wrote {out}")
