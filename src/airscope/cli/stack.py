"""`airscope gen` and `airscope check`: the generated files and their checks."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import click

from airscope import checkout
from airscope.cli._types import Duration

# The generators, the static checks and the live check are imported inside the command that uses
# them, for start-up time: `airscope --help` imports this module, and the generators pull in the
# Grafana SDK, the live check the load generator and the local runner.


@click.command()
@click.option("--check", is_flag=True, help="Change nothing; fail when a generated file is stale.")
def gen(check: bool) -> None:
    """Write the generated files (deploy/, docs/metrics.md, docs/reference.md, the docs' generated
    tables) from the catalog and the code."""
    from airscope import gen as generators  # start-up time: see the top of the module

    if check:
        stale = generators.stale()
        if stale:
            raise click.ClickException(
                f"stale generated files: {', '.join(stale)}; run `.venv/bin/airscope gen` and commit them"
            )
        click.echo("generated files are up to date")
        return
    changed = generators.write()
    click.echo(f"wrote {', '.join(changed)}" if changed else "generated files were already up to date")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--live",
    is_flag=True,
    help="Instead: run `airscope load` on the local platform, then check every dashboard query has "
    "data and the gateway's counts and p95s match what the load saw.",
)
@click.option(
    "--duration",
    type=Duration(),
    default="60s",
    show_default=True,
    help="With --live: how long the load runs.",
)
@click.option("--rps", default=5.0, show_default=True, help="With --live: actions per second.")
@click.option(
    "--topology",
    is_flag=True,
    help="Instead: compare the calls in the local span files with the catalog's (services' calls, "
    "requires, external): list calls observed but not declared, and declared calls never seen. Make "
    "the traffic first: `airscope up`, then `airscope load`.",
)
@click.option(
    "--since",
    metavar="AGE|TIME",
    default="15m",
    show_default=True,
    help="With --topology: read the spans that ended since then: an age (15m, 2h, 1d) or an RFC 3339 "
    "time (2026-11-28T14:00:00Z).",
)
def check(as_json: bool, live: bool, duration: float, rps: float, topology: bool, since: str) -> None:
    """Check the generated stack statically: promtool, amtool, PromQL against exported metrics,
    dashboards, the backends' configs and the compose file. Exits 1 on any problem."""
    from airscope.stack import checks  # start-up time: see the top of the module

    root = checkout.root()
    if live and topology:
        raise click.UsageError("--live and --topology are separate checks: pick one")
    if topology:
        _check_topology(as_json, since)
        return
    if live:
        _check_live(root, as_json, duration, rps)
        return
    results = []
    for description, problems in checks.run(root):
        results.append({"check": description, "problems": problems})
        if not as_json:
            click.echo(f"{'ok' if not problems else 'FAILED':6} {description}")
            for problem in problems:
                click.echo("       - " + problem.replace("\n", "\n         "))
    if as_json:
        click.echo(json.dumps(results, indent=2))
    failed = sum(len(r["problems"]) for r in results)
    if failed:
        raise click.ClickException(f"{failed} problem(s) in the generated stack")


def _check_topology(as_json: bool, since_text: str) -> None:
    from airscope.local.logs import parse_since  # start-up time: see the top of the module
    from airscope.local.traces import existing_trace_dir, topology

    try:
        since = parse_since(since_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    trace_dir = existing_trace_dir()
    start_ns, end_ns = round(since.timestamp() * 1e9), time.time_ns()
    found = topology.observed(trace_dir, start_ns, end_ns)
    spans = sum(node.spans for node in found.nodes.values())
    if not spans:
        raise click.ClickException(
            f"no spans ended since {since:%Y-%m-%d %H:%M:%S %Z} under {trace_dir}: make traffic first "
            "(`airscope up`, then `airscope load`), or read further back with --since"
        )

    def call(edge: topology.Edge) -> str:
        return f"{edge.source} -> {edge.target} ({found.nodes[edge.target].kind})"

    def calls(edge: topology.Edge) -> str:
        return f"{call(edge)}: {edge.stats.count} calls"

    if as_json:
        click.echo(
            json.dumps(
                {
                    "window_seconds": round(found.window_s, 3),
                    "spans": spans,
                    "undeclared": [call(edge) for edge in found.undeclared],
                    "unseen": [call(edge) for edge in found.unseen],
                    "not_exercised": [call(edge) for edge in found.idle],
                    "graph": found.frame(),
                },
                indent=2,
            )
        )
    else:
        seen = [edge for edge in found.edges.values() if edge.seen]
        click.echo(
            f"{spans} spans since {since:%Y-%m-%d %H:%M:%S %Z} under {trace_dir}; {len(seen)} kinds of call seen"
        )
        for title, problems, text in (
            ("observed calls are declared in the catalog", found.undeclared, calls),
            ("declared calls are seen", found.unseen, call),
        ):
            click.echo(f"{'ok' if not problems else 'FAILED':6} {title}")
            for edge in problems:
                click.echo("       - " + text(edge))
        if found.idle:
            # Not a failure: the caller ran no code that writes spans, so the load never reached it.
            click.echo("note   declared calls of callers that wrote no span (the load does not drive them):")
            for edge in found.idle:
                click.echo("       - " + call(edge))
    problems = len(found.undeclared) + len(found.unseen)
    if problems:
        raise click.ClickException(
            f"{problems} call(s) differ from the catalog: declare the new calls in "
            "src/airscope/catalog/catalog.yaml (calls, requires, external), or find why a declared one "
            "was not made"
        )


def _check_live(root: Path, as_json: bool, duration: float, rps: float) -> None:
    from airscope.local import live_check, runner  # start-up time: see the top of the module

    plat = runner.platform()
    report = live_check.run(
        root,
        f"http://127.0.0.1:{plat.observability_ports['prometheus']}",
        f"http://127.0.0.1:{plat.service_ports['api-gateway']}",
        plat.api_key,
        duration,
        rps,
    )
    if as_json:
        click.echo(json.dumps({**asdict(report), "problems": report.problems}, indent=2))
    else:
        click.echo(f"{report.sent} requests over {report.window_seconds} s; {report.panels} panel queries")
        for title, problems in (
            ("dashboard panels with data", report.empty),
            ("request counts: client = Prometheus", report.counts),
            ("p95 per route within one bucket", report.p95),
            ("domain counters = what the answers prove", report.domain),
        ):
            click.echo(f"{'ok' if not problems else 'FAILED':6} {title}")
            for problem in problems:
                click.echo("       - " + problem)
    if report.problems:
        raise click.ClickException(f"{len(report.problems)} problem(s) against the live platform")
