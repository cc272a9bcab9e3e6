"""`airscope bench` and its subcommands, and `airscope soak`: measurements of the running platform.

The work is in ``airscope.bench``; these commands read the flags, print, and write the documents.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from airscope import checkout
from airscope.bench import baselines, chat_tokens, logs, overhead, platform, soak, telemetry_outage
from airscope.bench.result import JSON_PATH, Result
from airscope.cli._lazy import LazyGroup
from airscope.cli._types import Duration
from airscope.local import api_key, ports
from airscope.local.load import default_gateway

F = TypeVar("F", bound=Callable[..., object])


def _rates(value: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of rates such as 5,10,20") from None
    if not rates or any(rate <= 0 for rate in rates) or list(rates) != sorted(rates):
        raise click.BadParameter(f"{value!r}: give rising rates above 0, such as 5,10,20")
    return rates


class WholeSeconds(Duration):
    """A duration of whole seconds, at least one (wrk's -d takes no fraction)."""

    def convert(self, value, param, ctx) -> int:
        seconds = super().convert(value, param, ctx)
        if seconds < 1 or seconds != int(seconds):
            self.fail(f"{value!r}: give whole seconds, at least 1 (8, 8s, 1m)", param, ctx)
        return int(seconds)


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.option(
    "--mixed",
    "mixed_rates",
    default="5,7,10,15,20,30,40",
    show_default=True,
    help="Rates (actions/s) of the mixed flows, climbed until past the knee.",
)
@click.option(
    "--chat",
    "chat_rates",
    default="10,20,30,40,50,60",
    show_default=True,
    help="Rates (chats/s) of the chat path alone; '' skips it.",
)
@click.option("--step-seconds", type=Duration(), default=30.0, show_default=True, help="Load per step.")
@click.option(
    "--normal-seconds",
    type=Duration(),
    default=120.0,
    show_default=True,
    help="Length of the normal-load step (mixed at 5/s), which the HighLatency thresholds come from.",
)
@click.option(
    "--overload-seconds",
    type=Duration(positive=False),
    default=platform.OVERLOAD_SECONDS,
    show_default=True,
    help="Each phase of the row at 2x the chat knee (normal load, overload, normal load); 0 skips it.",
)
@click.option(
    "--from-json",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Write the documents again from a kept run's JSON instead of measuring.",
)
@click.pass_context
def bench(
    ctx: click.Context,
    mixed_rates: str,
    chat_rates: str,
    step_seconds: float,
    normal_seconds: float,
    overload_seconds: float,
    from_json: Path | None,
) -> None:
    """Performance baselines of the running local platform (`make up` first): a fixed mix through the
    gateway at stepped rates until past the knee, then chats at twice the chat knee between stretches
    of normal load; prints the issue's goals, met or not. Writes docs/performance-baselines.md, its JSON and
    charts, and docs/capacity.md. The subcommands measure parts alone."""
    if ctx.invoked_subcommand is not None:
        return

    root = checkout.root()
    if from_json:
        result = Result.read(from_json)
    else:
        rates = {"mixed": _rates(mixed_rates)} | ({"chat": _rates(chat_rates)} if chat_rates.strip() else {})
        command = shlex.join(
            [
                *(".venv/bin/airscope", "bench", "--mixed", mixed_rates, "--chat", chat_rates),
                *("--step-seconds", f"{step_seconds:g}", "--normal-seconds", f"{normal_seconds:g}"),
                *("--overload-seconds", f"{overload_seconds:g}"),
            ]
        )
        result = platform.measure(rates, step_seconds, normal_seconds, command, overload_seconds)
        click.echo(f"wrote {result.write(root)}")
    for path in baselines.render_all(result, root):
        click.echo(f"wrote {path}")
    click.echo(baselines.goals_text(result, root))


def _wrk_options(rounds: int, connections: int, per: str) -> Callable[[F], F]:
    """The flags of the benchmarks that load one server at a time with wrk."""

    def apply(command: F) -> F:
        for option in reversed(
            (
                click.option(
                    "--rounds",
                    default=rounds,
                    show_default=True,
                    type=click.IntRange(min=1),
                    help=f"Interleaved rounds per {per}.",
                ),
                click.option(
                    "--duration",
                    default=8,
                    show_default=True,
                    type=WholeSeconds(),
                    help="wrk load per round.",
                ),
                click.option(
                    "--connections",
                    default=connections,
                    show_default=True,
                    type=click.IntRange(min=1),
                    help="wrk connections (-c).",
                ),
            )
        ):
            command = option(command)
        return command

    return apply


@bench.command("overhead")
@_wrk_options(rounds=5, connections=32, per="variant")
@click.option(
    "--output",
    default="docs/performance/overhead.md",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the Markdown table ('-' for none).",
)
def overhead_command(rounds: int, duration: int, connections: int, output: str) -> None:
    """Telemetry kit overhead against a bare app and the usual libraries, side by side."""
    rows, started = overhead.measure(rounds=rounds, duration=duration, connections=connections)
    click.echo(overhead.summary(rows))
    if output != "-":
        path = overhead.write(
            rows, started, rounds=rounds, duration=duration, connections=connections, output=output
        )
        _progress(f"wrote {path}")


@bench.command("telemetry-outage")
@_wrk_options(rounds=3, connections=16, per="condition")
def telemetry_outage_command(rounds: int, duration: int, connections: int) -> None:
    """Request latency and errors with the telemetry backends up, and each (and all) down."""
    conditions = telemetry_outage.measure(rounds=rounds, duration=duration, connections=connections)
    click.echo(telemetry_outage.table(conditions))
    click.echo(
        f"\nmedians over {rounds} rounds of {duration} s, {connections} connections; max and errors over "
        "all rounds; dropped: telemetry_dropped_total at the end"
    )


@bench.command("logs")
@click.option(
    "--lines", default=1_000_000, show_default=True, type=click.IntRange(min=1000), help="Lines to write."
)
def bench_logs_command(lines: int) -> None:
    """`airscope logs` over a million lines: filtered queries timed side by side."""
    click.echo(logs.render(logs.run_benchmark(lines, progress=_progress)))


@bench.command("console")
@click.option(
    "--load",
    "load_seconds",
    type=Duration(),
    default="40s",
    show_default=True,
    help="How long `airscope load` runs at its normal rate while the Overview is opened.",
)
def bench_console_command(load_seconds: float) -> None:
    """The console's goals in a real browser, side by side with the goals: the Overview drawn under
    normal load, the console's and the platform's memory, a 100-span trace drawn, a log search over a
    million lines (docs/performance/local.md keeps the figures)."""
    from airscope.bench import console

    click.echo(console.render(console.measure(progress=_progress, load_seconds=load_seconds)))


@bench.command("chat-tokens")
@click.option(
    "--grow",
    "grow_tables",
    default=0,
    show_default=True,
    type=click.IntRange(0, 500),
    help="First add this many tables of 100 records to the demo base (the Airtable stand-in only; "
    "the base keeps them).",
)
@click.option(
    "--write/--no-write",
    default=True,
    show_default=True,
    help="Keep the figures in docs/performance/chat-tokens.json.",
)
def chat_tokens_command(grow_tables: int, write: bool) -> None:
    """Input tokens per chat for the first questions a user asks, on the running platform (`make up`),
    beside the figures from before issue 16; docs/performance-baselines.md shows them."""

    if grow_tables:
        grown = chat_tokens.grow(f"http://127.0.0.1:{ports.port_for('standin-airtable', 7090)}", grow_tables)
        _progress(f"grew the demo base by {grown['tables_created']} tables")
    run = chat_tokens.measure(default_gateway(), api_key.api_key())
    root = checkout.root()
    path = root / chat_tokens.JSON_PATH
    kept = json.loads(path.read_text()) if path.exists() else {}
    click.echo(chat_tokens.render_terminal(run, kept))
    if write:
        path.write_text(json.dumps(chat_tokens.record(kept, run), indent=2) + "\n")
        _progress(f"wrote {path}")
        _progress(f"wrote {baselines.render_markdown(Result.read(root / JSON_PATH), root)}")


@click.command("soak")
@click.option("--duration", type=Duration(), default="30m", show_default=True, help="How long: 30m, 2h...")
@click.option("--sample", type=Duration(), default="1m", show_default=True, help="Time between samples.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Actions/s [default: half the mixed flows' highest rate below the knee, from "
    "docs/performance/baselines.json (`airscope bench`)].",
)
@click.option(
    "--warmup",
    type=Duration(positive=False),
    default=None,
    help=f"Time not judged at the start [default: the first {soak.WARMUP_SHARE:.0%} of the duration].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def soak_command(
    duration: float, sample: float, rate: float | None, warmup: float | None, as_json: bool
) -> None:
    """The running local platform (`make up` first) under `airscope load`'s mix at half its sustainable
    rate: per-service memory, errors and Prometheus' series over time, then a verdict against the
    goals (memory growth under 10 % after warm-up, zero errors, flat series). Exits 1 on a missed goal."""

    if rate is None:
        sustainable = soak.sustainable_rate(Result.read(checkout.root() / JSON_PATH))
        rate, source = sustainable / 2, f"half of {sustainable:g}/s, the knee in {JSON_PATH}"
    else:
        source = "--rate"
    settings = soak.Settings(
        rate=rate,
        duration=duration,
        sample=min(sample, duration),
        warmup=warmup if warmup is not None else soak.WARMUP_SHARE * duration,
        rate_source=source,
    )
    command = shlex.join(["airscope", "soak", *sys.argv[2:]])
    report = soak.measure(settings, command, _progress)
    click.echo(json.dumps(report, indent=2) if as_json else soak.render(report))
    if not report["verdict"]["met"]:
        raise SystemExit(1)


@bench.command("profile")
@click.option(
    "--service",
    "services",
    multiple=True,
    required=True,
    help="A running service to record (repeat for several); every instance of it is recorded.",
)
@click.option("--duration", type=Duration(), default="20s", show_default=True, help="How long to record.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Chats/s sent through the gateway meanwhile (0: none, to profile under another load).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the speedscope files go [default: <platform home>/profiles/bench].",
)
@click.option("--top", default=15, show_default=True, type=click.IntRange(min=1), help="Rows per table.")
def profile_command(
    services: tuple[str, ...], duration: float, rate: float, output: Path | None, top: int
) -> None:
    """Where a running service's CPU goes under chat load: py-spy records it from outside, unchanged;
    prints CPU per chat, its samples by package, by the caller they worked for and by function (own
    time), and writes a speedscope file per process."""
    from airscope.bench import profile
    from airscope.local import paths

    run = profile.measure(
        services, duration, rate, output or paths.home() / "profiles" / "bench", progress=_progress
    )
    click.echo(profile.render(run, top=top))


@bench.command("slo")
@click.option(
    "--days",
    default=30,
    show_default=True,
    type=click.IntRange(1, 62),
    help="Days of history, ending at the start of this month (UTC).",
)
@click.option(
    "--runs", default=5, show_default=True, type=click.IntRange(min=1), help="Times budgets() is timed."
)
def slo_command(days: int, runs: int) -> None:
    """`airscope slo`'s error budgets over a synthetic history of every catalog service (steady traffic,
    incidents and deploys at known times) in a throwaway Prometheus, with the SLO rules recorded over it
    by promtool: budgets() timed (goal: under 1 s), and each SLO's budget left and the last month's
    compliance beside the truth counted from the requests themselves."""
    from airscope import catalog
    from airscope.bench import slo

    click.echo(slo.render(slo.measure(catalog.load(), days, runs, progress=_progress)))
