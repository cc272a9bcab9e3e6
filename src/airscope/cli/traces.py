"""`airscope trace` and `airscope traces`: requests as span trees (airscope.local.traces)."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from datetime import datetime

import click
import orjson

from airscope.cli._types import Duration
from airscope.cli.logs import SINCE_HELP, limit_option, since_option, trace_id_option
from airscope.local import traces


def _print(text: str) -> None:
    try:
        click.echo(text)
    except BrokenPipeError:  # `airscope traces | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _echo_json(document: object) -> None:
    _print(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


def _red(text: str) -> str:
    return click.style(text, fg="red")


@click.command("trace")
@click.argument("trace_id", callback=trace_id_option)
@click.option("--json", "as_json", is_flag=True, help="Print the spans as a nested tree in JSON.")
def trace_command(trace_id: str, as_json: bool) -> None:
    """One request across services: its spans from every file under var/traces, as a waterfall.

    TRACE_ID is the 32 hex digits of the response's X-Trace-Id header (or a log line's trace_id)."""
    trace = traces.load_trace(traces.existing_trace_dir(), trace_id)
    if as_json:
        _echo_json(traces.trace_json(trace))
        return
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    lines = traces.waterfall(trace, shutil.get_terminal_size().columns, _red if color else None)
    _print("\n".join(lines))


@click.command("traces")
@click.option(
    "-s", "--service", metavar="NAME", help="Only traces with a span from this service (or instance)."
)
@click.option(
    "--min-duration",
    type=Duration(positive=False),
    metavar="DURATION",
    help="Only traces lasting at least this long: 500ms, 1.5s, 2m (a bare number is seconds).",
)
@click.option("--errors", is_flag=True, help="Only traces with a span whose status is ERROR.")
@click.option(
    "--since", metavar="AGE|TIME", callback=since_option, help=f"Only traces begun since: {SINCE_HELP}."
)
@limit_option(20, "At most N traces; 0 for all.")
@click.option("--json", "as_json", is_flag=True, help="Print the traces as a JSON array.")
def traces_command(
    service: str | None,
    min_duration: float | None,
    errors: bool,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Recent traces, newest first: root span, start, duration, span count, services, errors."""
    trace_dir = traces.existing_trace_dir()
    keep = traces.TraceFilter(
        service=service,
        min_duration_ns=round((min_duration or 0) * 1e9),
        errors=errors,
        since_ns=round(since.timestamp() * 1e9) if since else None,
    )
    found = list(itertools.islice(traces.recent_traces(trace_dir, keep), limit or None))
    if as_json:
        _echo_json([traces.summary_json(trace) for trace in found])
    elif found:
        _print(traces.listing(found))
    if not found:
        files = len(traces.span_files(trace_dir))
        click.echo(f"no matching trace in the {files} span files under {trace_dir}", err=True)
