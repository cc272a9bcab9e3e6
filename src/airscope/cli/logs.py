"""`airscope logs`: every program's lines (airscope.local.logs), filtered, merged and followed."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from datetime import datetime

import click

from airscope.local import logs

_LEVEL_STYLE = {"debug": {"dim": True}, "warning": {"fg": "yellow"}, "error": {"fg": "red"}}
_LEVEL_STYLE |= {"warn": _LEVEL_STYLE["warning"], "critical": {"fg": "red", "bold": True}}
SINCE_HELP = "an age (10m, 2h, 1d; a bare number is seconds) or an RFC 3339 time (UTC if no zone)"


def trace_id_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --trace or TRACE_ID value: 32 hex digits, lowercased."""
    try:
        return logs.parse_trace_id(value) if value is not None else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def since_option(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """A --since value: the moment it names."""
    try:
        return logs.parse_since(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def limit_option(default: int, help: str):
    """-n/--limit N, 0 for no limit."""
    return click.option(
        "-n", "--limit", default=default, show_default=True, type=click.IntRange(min=0), help=help
    )


def _style(text: str, level: str) -> str:
    return click.style(text, **_LEVEL_STYLE.get(level, {}))


@click.command("logs")
@click.option(
    "-s",
    "--service",
    "services",
    multiple=True,
    metavar="NAME",
    help="Only this service (repeatable): the line's service field; for plain-text lines, the program.",
)
@click.option("--level", type=click.Choice(logs.LEVELS, case_sensitive=False), help="This level and above.")
@click.option(
    "--trace",
    "trace",
    metavar="TRACE_ID",
    callback=trace_id_option,
    help="Only the lines of this trace (32 hex digits, the X-Trace-Id response header).",
)
@click.option(
    "--since", metavar="AGE|TIME", callback=since_option, help=f"Only lines from then on: {SINCE_HELP}."
)
@click.option("--grep", metavar="TEXT", help="Only lines containing TEXT (case-sensitive, in the raw line).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Print the JSON lines as written (plain-text lines as {timestamp, program, text}).",
)
@limit_option(200, "The last N matching lines; 0 for all.")
def logs_command(
    services: tuple[str, ...],
    level: str | None,
    trace: str | None,
    since: datetime | None,
    grep: str | None,
    follow: bool,
    json_output: bool,
    limit: int,
) -> None:
    """The logs of every program (var/log, rotated files included), merged in timestamp order.

    Plain-text lines (PostgreSQL, Redis, Prometheus...) are left out by --level and --trace."""
    log_dir = logs.existing_log_dir()
    query = logs.Query(frozenset(services), level.lower() if level else None, trace, since, grep, limit)
    store = logs.LogStore(log_dir)
    programs = logs.log_files(log_dir)
    known = sorted({logs.base(program) for program in programs})
    unknown = sorted(set(services) - set(known))
    if unknown:
        click.echo(f"no log file for {', '.join(unknown)} (there are: {', '.join(known)})", err=True)
    out = sys.stdout.buffer
    style = _style if not json_output and out.isatty() and "NO_COLOR" not in os.environ else None

    def write(lines: Iterable[logs.Line]) -> int:
        count = 0
        for line in lines:
            out.write(
                logs.as_json(line) + b"\n" if json_output else (logs.render(line, style) + "\n").encode()
            )
            count += 1
        out.flush()
        return count

    try:
        if not write(store.query(query)) and not follow:
            files = sum(map(len, programs.values()))
            click.echo(f"no matching line in {files} files under {log_dir}", err=True)
        if follow:
            for line in store.follow(query):  # each line flushed, for whoever reads the output live
                write([line])
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # `airscope logs | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
