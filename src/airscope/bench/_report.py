"""The overhead benchmark's Markdown: machine, method, results, and the issue's goals beside them.

Every figure in the tables comes from the run it is given; the only quoted numbers are the issue's
measurements of the libraries, and those are labelled as quoted.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata

from airscope import tables
from airscope.bench._overhead_apps import VARIANTS
from airscope.bench.counters import cpu_model

# Versions that decide the figures: the server stack, the kit's dependencies, the libraries compared.
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "prometheus-client",
    "opentelemetry-sdk",
    "structlog",
    "orjson",
    "prometheus-fastapi-instrumentator",
    "starlette-exporter",
    "opentelemetry-instrumentation-fastapi",
    "pyroscope-io",
    "pyroscope-otel",
)


@dataclass(frozen=True)
class Row:
    """One variant's medians over the rounds, with its ratios to the bare app."""

    key: str
    label: str
    rps: float
    rps_ratio: float
    p50_ms: float
    p99_ms: float
    p99_ratio: float
    rps_min: float
    rps_max: float
    requests: int  # every request wrk completed against it, warm-up included
    access_lines: int | None
    spans: int | None
    # Its ratio to bare in each round (each round ran every variant once), in the order of the rounds.
    round_ratios: tuple[float, ...] = ()
    # The server's CPU time per request (all its threads), median over the rounds.
    cpu_us: float | None = None
    # Profiles its agent pushed, as the Pyroscope sink counted them; None without an agent.
    profiles: int | None = None


@dataclass(frozen=True)
class Goal:
    stack: str
    libraries_in_issue: str  # quoted from the issue, not measured here
    library_keys: tuple[str, ...]  # this run's rows for the same libraries
    kit_key: str
    measure: str  # "rps_ratio" or "p99_ratio"
    bound: float
    # Judged on the ratio of every round, not on the median: a goal the machine's drift could meet
    # in one round and miss in the next is not met.
    every_round: bool = False
    # The row the kit's row is measured against instead of the bare app (its req/s ratio to that
    # row, median of the rounds' ratios): a goal on what one addition costs.
    relative_to: str | None = None

    @property
    def text(self) -> str:
        if self.measure == "p99_ratio":
            return f"at most {self.bound:g}x bare p99"
        if self.relative_to is not None:
            return f"at least {self.bound:.2f} of the row without it ({1 - self.bound:.0%} at most)"
        return f"at least {self.bound:.2f}" + (" in every round" if self.every_round else "")

    def value(self, row: Row, base: Row | None = None) -> float:
        if self.relative_to is not None and base is not None:
            return relative_ratio(row, base)
        return getattr(row, self.measure)

    def met(self, row: Row, base: Row | None = None) -> bool:
        if self.every_round:
            return bool(row.round_ratios) and min(row.round_ratios) >= self.bound
        value = self.value(row, base)
        return value >= self.bound if self.measure == "rps_ratio" else value <= self.bound


def relative_ratio(row: Row, base: Row) -> float:
    """``row``'s req/s as a share of ``base``'s: the median over the rounds of the two rows' ratio in
    the same round (both ran in it, minutes apart at most), or of the medians without rounds."""
    if row.round_ratios and len(row.round_ratios) == len(base.round_ratios):
        return statistics.median(a / b for a, b in zip(row.round_ratios, base.round_ratios, strict=True))
    return row.rps / base.rps


GOALS = (
    Goal(
        "metrics only",
        "prometheus-fastapi-instrumentator 0.80, starlette-exporter 0.69",
        ("instrumentator", "starlette-exporter"),
        "kit-metrics",
        "rps_ratio",
        0.90,
        every_round=True,
    ),
    Goal(
        "metrics + one JSON access line + tracing at 100 % sampling, spans dropped",
        "instrumentator + OTel FastAPI instrumentation + structlog line: 0.27 (OTel alone: 0.37)",
        ("libraries-full", "otel-fastapi"),
        "kit-trace-100",
        "rps_ratio",
        0.60,
    ),
    Goal(
        "the same with spans exported over OTLP/HTTP",
        "(not measured)",
        (),
        "kit-trace-otlp",
        "rps_ratio",
        0.50,
    ),
    Goal("the same at 10 % head sampling", "(not measured)", (), "kit-trace-10", "rps_ratio", 0.75),
    Goal(
        "p99 latency, full stack at 100 % sampling",
        "OTel instrumentation: 4.5x bare p99",
        ("otel-fastapi", "libraries-full"),
        "kit-trace-100",
        "p99_ratio",
        1.5,
    ),
    Goal(
        "p99 latency, spans to the OTLP JSON file (local mode)",
        "(not measured)",
        (),
        "kit-trace-file",
        "p99_ratio",
        2.0,
    ),
    # Production's row (10 % sampling) with the Pyroscope agent added: what continuous profiling
    # costs on top of the rest (issue 23).
    Goal(
        "continuous profiling (Pyroscope push) on top of metrics + log + tracing 10 %",
        "(not measured)",
        (),
        "kit-profile",
        "rps_ratio",
        0.95,
        relative_to="kit-trace-10",
    ),
)


def machine() -> dict[str, str]:
    try:
        # `wrk -v` prints its version before the copyright (and exits 1 for want of a URL).
        banner = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
        wrk = banner.split(" Copyright")[0].strip() or "unknown"
    except OSError:
        wrk = "unknown"
    return {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "wrk": wrk,
        "packages": ", ".join(f"{name} {_version(name)}" for name in PACKAGES),
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def results_table(rows: Sequence[Row]) -> str:
    return tables.markdown(
        [
            "variant",
            "req/s",
            "ratio to bare",
            "p50 ms",
            "p99 ms",
            "p99 ratio to bare",
            "req/s over the rounds",
            "CPU µs per request",
        ],
        [
            [
                row.label,
                f"{row.rps:,.0f}",
                f"{row.rps_ratio:.2f}",
                f"{row.p50_ms:.2f}",
                f"{row.p99_ms:.2f}",
                f"{row.p99_ratio:.2f}x",
                f"{row.rps_min:,.0f} to {row.rps_max:,.0f}",
                "-" if row.cpu_us is None else f"{row.cpu_us:.0f}",
            ]
            for row in rows
        ],
    )


def goals_table(rows: Sequence[Row]) -> str:
    by_key = {row.key: row for row in rows}

    def measured(goal: Goal, key: str) -> str:
        row = by_key[key]
        if goal.relative_to is not None and key == goal.kit_key:
            base = by_key[goal.relative_to]
            return f"{row.label}: {goal.value(row, base):.2f} of {base.label}"
        value = getattr(row, goal.measure)
        text = f"{row.label}: {value:.2f}" + ("x" if goal.measure == "p99_ratio" else "")
        if goal.every_round and key == goal.kit_key:
            text += " (rounds: " + ", ".join(f"{ratio:.2f}" for ratio in row.round_ratios) + ")"
        return text

    return tables.markdown(
        [
            "stack",
            "ratio measured for the libraries people use today (quoted from the issue)",
            "the same libraries, this run",
            "our goal",
            "the kit, this run",
            "met / not met",
        ],
        [
            [
                goal.stack,
                goal.libraries_in_issue,
                "; ".join(measured(goal, key) for key in goal.library_keys) or "-",
                goal.text,
                measured(goal, goal.kit_key),
                "met"
                if goal.met(by_key[goal.kit_key], by_key.get(goal.relative_to or ""))
                else "**not met**",
            ]
            for goal in GOALS
        ],
    )


def checks_table(rows: Sequence[Row]) -> str:
    def per_request(count: int | None, row: Row) -> str:
        return "-" if count is None else f"{count:,} ({count / row.requests:.2f} per request)"

    return tables.markdown(
        ["variant", "requests served", "access lines written", "spans exported", "profiles pushed"],
        [
            [
                row.label,
                f"{row.requests:,}",
                per_request(row.access_lines, row),
                per_request(row.spans, row),
                "-" if row.profiles is None else f"{row.profiles:,}",
            ]
            for row in rows
        ],
    )


def markdown(
    rows: Sequence[Row],
    *,
    command: str,
    rounds: int,
    duration: int,
    connections: int,
    warmup: int,
    started: datetime,
    machine_info: Callable[[], dict[str, str]] = machine,
) -> str:
    labels = {variant.key: variant.label for variant in VARIANTS}
    info = "\n".join(f"- {name}: {value}" for name, value in machine_info().items())
    return f"""# Telemetry kit overhead

Generated by `airscope bench overhead` on {started:%Y-%m-%d %H:%M} UTC; every figure below comes
from that run. Reproduce with:

```
{command}
```

## Machine

{info}

## Method

Each variant is the same FastAPI app (`GET /hello/{{name}}` returning a small JSON object) in
its own uvicorn process (`--workers 1 --loop uvloop --http httptools --no-access-log`, so the
only access line is the one being measured), pinned to CPU 0 with `taskset`, with `LOG_LEVEL=info`
and its stdout and stderr redirected to a file. The load generator,
`wrk -t1 -c{connections} -d{duration}s --latency`, runs pinned to CPU 1. Before measuring, every
server must answer `GET /hello/world` with 200 (and list its request metric on `/metrics` where
it has one), then takes a {warmup} s warm-up run that is discarded. Then {rounds} round(s): each
round runs every variant once, in an order rotated from round to round, so that drift of the
machine affects all variants alike. The servers stay up for the whole run: restarting them per
round would add start-up and warm-up to every round, and an idle server only sleeps, so it does
not take CPU 0 from the one under load. The table gives per variant the median over the rounds
of requests per second and of wrk's p50 and p99 latency, and each median's ratio to the bare
app's; and the CPU time the server process used (all its threads, the span export thread among
them) per request wrk completed, median over the rounds: a figure that other load on the machine
moves much less than requests per second, which compares variants when the machine is shared.

Spans of the tracing variants go through a batch span processor into an exporter that accepts
and drops them, so the rows measure making spans, not shipping them. The kit's rows use its own
pipeline (its tracer provider, `CountingBatchSpanProcessor` and the redacting `SafeExporter`);
"{labels["kit-trace-file"]}" is the kit as a local service runs it, configured from the
environment (`AIRSCOPE_TRACE_DIR`) and writing OTLP JSON lines to a file; "{labels["kit-trace-otlp"]}"
is the kit as a service runs it in production, configured from the environment
(`OTEL_EXPORTER_OTLP_ENDPOINT`) and exporting with the SDK's OTLP/HTTP exporter to a sink that
stands for the collector: a uvicorn process on the load generator's CPU that answers 200 and
counts the spans it received (the Checks table). 10 % is head sampling,
`parentbased_traceidratio` at 0.1. The libraries' full-stack row logs one structlog JSON line
per request from an `@app.middleware("http")` function, as FastAPI's documentation shows
middleware, with the trace id added by a processor.

The two profiling rows are the 10 % row with one thing added. "{labels["kit-profile"]}" runs the
kit's Pyroscope agent as compose does (`AIRSCOPE_PYROSCOPE_URL`; pyroscope-io sampling the
process's on-CPU Python stacks 100 times a second from its native thread, which shares the server's
CPU, and pushing a profile every 10 s; pyroscope-otel's span processor on every kept root span) to a
stand-in for Pyroscope on the load generator's CPU that answers 200 and counts the pushes (the
Checks table). "{labels["kit-tracemalloc"]}" has tracemalloc tracing every allocation with one frame,
as the kit's memory switch (`POST /_profile/memory`) does for the window it is asked for, here for
the whole run. Their goal is judged against the 10 % row: the median over the rounds of the two
rows' ratio within each round.

## Results

{results_table(rows)}

## The goals

{goals_table(rows)}

The full-stack goals are judged on "{labels["kit-trace-100"]}", which drops its spans as the
libraries' rows do, and on the rows that ship them. "In every round" is judged on the ratio to
bare of each round (each round ran every variant once), not on the median. Where the kit's time goes, and why the goals it misses are missed:
[where-the-time-goes.md](where-the-time-goes.md).

## Checks

What each server wrote, counted after it stopped: every variant did the work it claims.

{checks_table(rows)}
"""
