"""``airscope bench``: the running local platform under `airscope load`'s fixed mix at stepped rates.

Each mix (``MIXES``) climbs ``rates`` one step at a time and stops after the first step past its knee
(``Step.past_knee``). A step is one open-loop load of ``step_seconds`` with a fixed seed, so every
run plans the same actions. Measured per step:

- as the client saw them: per route and per called service, throughput and p50/p95/p99, errors;
- per process of the platform (supervisord's program groups, so PostgreSQL's backends count under
  postgres): CPU in cores and resident memory; the load generator's own CPU beside them, since it
  shares the machine's cores;
- what the telemetry costs: log bytes the services wrote, spans they exported (and their bytes),
  per request; series per service and samples/s, as Prometheus counts them;
- as Prometheus saw it: each service's request rate and p95 (probes excluded), the figures the
  HighLatency thresholds derive from (``airscope.bench.thresholds``);
- Airtable's limit: calls to Airtable per second (the step's mean and its busiest 10 s), the 429s
  Airtable answered, and the 429s that reached the load's users.

After the mixes, the row at 2x the chat mix's knee (``airscope.bench.overload``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from airscope import catalog
from airscope.bench import overload
from airscope.bench.counters import Snapshot, SpanFiles, grown_bytes, gzip_ratio, machine
from airscope.bench.result import (
    MAX_IN_FLIGHT,
    NORMAL,
    SEED,
    SETTLE_SECONDS,
    WARMUP,
    Compression,
    Latency,
    Overload,
    Result,
    Settings,
    Step,
    Telemetry,
    Usage,
)
from airscope.local import load, paths, runner
from airscope.local.process import pss_bytes
from airscope.local.supervisor import Supervisor
from airscope.local.traces import span_files
from airscope.promapi import Prometheus
from airscope.services.api_gateway.proxy import ROUTES
from airscope.stack import settings

MIXES: dict[str, dict[str, int]] = {
    "mixed": load.WEIGHTS,  # every flow, as `airscope load` sends them
    "chat": {"chat": 1},  # the gateway's chat path alone (issue 8's 50 requests/s goal)
}
# The routes the alerts and dashboards leave out too (the recording rules read the same setting).
KIT_ROUTES = "|".join(settings.KIT_ROUTES)
REQUESTS = "http_server_request_duration_seconds"
PROMETHEUS_TIMEOUT = 30.0
OVERLOAD_SECONDS = 20.0  # each of the overload row's three phases
PEAK_WINDOW, PEAK_STEP = "10s", "5s"  # two local scrapes per window, a window per scrape
TOO_MANY_REQUESTS = 429


def latency_of(seconds: list[float], errors: int, window: float) -> Latency:
    ordered = sorted(seconds)
    return Latency(
        count=len(ordered),
        errors=errors,
        rps=round(len(ordered) / window, 2),
        **{
            f"p{q}_ms": round(load.percentile(ordered, q / 100) * 1000, 1) if ordered else 0.0
            for q in (50, 95, 99)
        },
    )


# --- Prometheus ----------------------------------------------------------------------------------


@dataclass
class PrometheusView:
    """What Prometheus counted over a step: per service (series, request rate, p95, probes excluded)
    and for the platform (the head's series, samples appended per second, calls to Airtable per
    second and the p95 of their wait for airtable-gateway's rate limiter)."""

    series: dict[str, float]
    rps: dict[str, float]
    p95: dict[str, float]
    head_series: float
    samples: float
    airtable_calls: float
    airtable_wait: float | None
    airtable_calls_peak: float | None
    airtable_429s: float | None

    @classmethod
    def read(cls, prometheus: Prometheus, window: int) -> PrometheusView:
        selector = f'job="services", route!~"{KIT_ROUTES}"'
        rate = f"rate({REQUESTS}_count{{{selector}}}[{window}s])"
        buckets = f"rate({REQUESTS}_bucket{{{selector}}}[{window}s])"
        wait = f'rate(airtable_rate_limit_wait_seconds_bucket{{job="services"}}[{window}s])'
        calls = f'rate(airtable_request_duration_seconds_count{{job="services"}}[{window}s])'
        # Over 10 s windows, every scrape (5 s locally): the busiest stretch of the step, not its mean.
        peak = f'sum(rate(airtable_request_duration_seconds_count{{job="services"}}[{PEAK_WINDOW}]))'
        refused = f'sum(increase(airtable_rate_limited_responses_total{{job="services"}}[{window}s]))'
        return cls(
            series=prometheus.values_by('count by (service) ({job="services"})', "service"),
            rps=prometheus.values_by(f"sum by (service) ({rate})", "service"),
            p95=prometheus.values_by(
                f"histogram_quantile(0.95, sum by (service, le) ({buckets}))", "service"
            ),
            head_series=prometheus.value("sum(prometheus_tsdb_head_series)") or 0.0,
            samples=prometheus.value(f"sum(rate(prometheus_tsdb_head_samples_appended_total[{window}s]))")
            or 0.0,
            airtable_calls=prometheus.value(f"sum({calls})") or 0.0,
            airtable_wait=prometheus.value(f"histogram_quantile(0.95, sum by (le) ({wait}))"),
            airtable_calls_peak=prometheus.value(f"max_over_time(({peak})[{window}s:{PEAK_STEP}])"),
            airtable_429s=prometheus.value(refused),
        )


# --- one step --------------------------------------------------------------------------------------


def route_services() -> dict[str, str]:
    """The gateway's route templates -> the service each one is sent to."""
    return {route.template: route.upstream for route in ROUTES} | {load.HEALTH_ROUTE: "api-gateway"}


def client_view(tally: load.Tally, window: float) -> tuple[Latency, dict[str, Latency], dict[str, Latency]]:
    services = route_services()
    errors: Counter[tuple[str, str]] = Counter()
    for (method, route, _, _), n in tally.counts.items():
        errors[(method, route)] += n
    for (method, route, _, _), n in tally.as_expected.items():
        errors[(method, route)] -= n
    routes, by_service, by_service_errors, everything = {}, {}, Counter(), []
    for (method, route), seconds in sorted(tally.latencies.items()):
        routes[f"{method} {route}"] = latency_of(seconds, errors[(method, route)], window)
        service = services.get(route, "api-gateway")
        by_service.setdefault(service, []).extend(seconds)
        by_service_errors[service] += errors[(method, route)]
        everything.extend(seconds)
    overall = latency_of(everything, sum(errors.values()), window)
    return (
        overall,
        routes,
        {s: latency_of(v, by_service_errors[s], window) for s, v in sorted(by_service.items())},
    )


@dataclass
class Target:
    """The running local platform as the bench (and the soak) sees it."""

    gateway: str
    api_key: str
    supervisor: Supervisor
    prometheus: Prometheus
    log_dir: Path
    trace_dir: Path
    services: tuple[str, ...]
    spans: SpanFiles = field(init=False)

    def __post_init__(self) -> None:
        self.spans = SpanFiles(self.trace_dir)

    @classmethod
    def running(cls) -> Target:
        plat = runner.platform()
        supervisor = runner.running_supervisor(plat)
        return cls(
            gateway=f"http://127.0.0.1:{plat.service_ports['api-gateway']}",
            api_key=load.api_key(),
            supervisor=supervisor,
            prometheus=Prometheus(
                f"http://127.0.0.1:{plat.observability_ports['prometheus']}", timeout=PROMETHEUS_TIMEOUT
            ),
            log_dir=paths.log_dir(),
            trace_dir=paths.trace_dir(),
            services=tuple(catalog.load().services),
        )

    def log_files(self) -> dict[str, Path]:
        return {program: self.supervisor.log_file(program) for program in self.supervisor.names()}


def _usage(groups: dict[str, list[int]], before: Snapshot, after: Snapshot) -> dict[str, Usage]:
    """Each program's CPU over the step and its memory (PSS) now."""
    elapsed = after.at - before.at
    return {
        program: Usage(
            round((after.cpu.get(program, 0) - before.cpu.get(program, 0)) / elapsed, 3),
            round(pss_bytes(pids) / 2**20, 1),
        )
        for program, pids in sorted(groups.items())
    }


def _telemetry(
    target: Target,
    logs: dict[str, Path],
    before: Snapshot,
    after: Snapshot,
    spans: dict[str, tuple[int, int]],
    view: PrometheusView,
) -> dict[str, Telemetry]:
    telemetry = {}
    for service in target.services:
        log_bytes = sum(
            grown_bytes(path, before.files.get(path), after.files.get(path))
            for program, path in logs.items()
            if program.split("@")[0] == service
        )
        span_count, span_bytes = spans.get(service, (0, 0))
        p95 = view.p95.get(service)
        telemetry[service] = Telemetry(
            log_bytes=log_bytes,
            spans=span_count,
            span_bytes=span_bytes,
            series=int(view.series.get(service, 0)),
            server_rps=round(view.rps.get(service, 0.0), 2),
            server_p95_ms=round(p95 * 1000, 1) if p95 is not None else None,
        )
    return telemetry


def measure_step(target: Target, mix: str, rate: float, seconds: float) -> Step:
    groups = target.supervisor.processes()
    logs = target.log_files()
    target.spans.new_spans()  # what came before this step is not its
    before = Snapshot.take(groups, logs.values())
    settings = load.Settings(
        gateway=target.gateway,
        api_key=target.api_key,
        rps=rate,
        duration=seconds,
        seed=SEED,
        max_in_flight=MAX_IN_FLIGHT,
    )
    run = load.Load(settings, weights=MIXES[mix])
    asyncio.run(run.run(load.Progress(run.tally, seconds, stream=sys.stderr)))
    after = Snapshot.take(groups, logs.values())
    elapsed = after.at - before.at
    time.sleep(SETTLE_SECONDS)
    spans = target.spans.new_spans()
    view = PrometheusView.read(target.prometheus, int(elapsed + SETTLE_SECONDS))
    overall, routes, services = client_view(run.tally, elapsed)
    tally = run.tally
    return Step(
        mix=mix,
        rate=rate,
        seconds=round(elapsed, 2),
        actions=sum(tally.planned.values()),
        skipped=sum(tally.skipped.values()),
        sent=tally.sent,
        answered=sum(n for (_, _, status, _), n in tally.counts.items() if status is not None),
        errors=tally.errors,
        overall=overall,
        routes=routes,
        services=services,
        processes=_usage(groups, before, after),
        load_generator_cpu_cores=round((after.own_cpu - before.own_cpu) / elapsed, 3),
        machine_cpu_cores=round((after.machine_cpu - before.machine_cpu) / elapsed, 3),
        telemetry=_telemetry(target, logs, before, after, spans, view),
        head_series=int(view.head_series),
        samples_per_second=round(view.samples, 1),
        airtable_calls_per_second=round(view.airtable_calls, 2),
        airtable_wait_p95_ms=None if view.airtable_wait is None else round(view.airtable_wait * 1000, 1),
        airtable_calls_peak_per_second=round(view.airtable_calls_peak or 0.0, 2),
        airtable_429s=round(view.airtable_429s or 0.0),
        user_429s=sum(n for (_, _, status, _), n in tally.counts.items() if status == TOO_MANY_REQUESTS),
    )


# --- the run -----------------------------------------------------------------------------------------


def _warm_up(target: Target, progress: Callable[[str], None]) -> None:
    rate, seconds = WARMUP
    progress(f"warm-up: {rate:g} actions/s for {seconds:g} s (not measured)")
    warmup = load.Load(
        load.Settings(target.gateway, target.api_key, rps=rate, duration=seconds, seed=SEED + 1)
    )
    asyncio.run(warmup.run())
    time.sleep(SETTLE_SECONDS)


def run(
    target: Target,
    rates: dict[str, tuple[float, ...]],
    step_seconds: float,
    normal_seconds: float,
    progress: Callable[[str], None],
) -> tuple[list[Step], dict[str, str]]:
    """Every mix up its rates until past its knee; the steps, and why each mix stopped. The normal
    load's step runs longer: the HighLatency thresholds need the rarer routes' p95 from it."""
    _warm_up(target, progress)
    steps: list[Step] = []
    stopped: dict[str, str] = {}
    for mix, mix_rates in rates.items():
        first = None
        for rate in mix_rates:
            seconds = normal_seconds if (mix, rate) == NORMAL else step_seconds
            progress(f"{mix} mix at {rate:g} actions/s for {seconds:g} s")
            step = measure_step(target, mix, rate, seconds)
            steps.append(step)
            first = first or step
            progress(
                f"  {step.overall.rps:.1f} requests/s answered, p50 {step.overall.p50_ms:.0f} ms, "
                f"p95 {step.overall.p95_ms:.0f} ms, p99 {step.overall.p99_ms:.0f} ms, "
                f"{step.error_ratio:.1%} errors, machine CPU {step.machine_cpu_cores:.2f} cores"
            )
            if reason := step.past_knee(first):
                stopped[mix] = f"past the knee at {rate:g}/s: {reason}"
                progress("  " + stopped[mix])
                break
        else:
            stopped[mix] = f"every rate asked for ran below the knee (up to {mix_rates[-1]:g}/s)"
    return steps, stopped


def knee_rate(steps: list[Step], mix: str) -> float | None:
    """The highest rate of ``mix`` below its knee (the last step ran past it, if any did)."""
    ran = [step for step in steps if step.mix == mix]
    first = ran[0] if ran else None
    below = [step.rate for step in ran if not step.past_knee(first)]
    return max(below) if below else None


def measure_overload(
    target: Target, steps: list[Step], seconds: float, progress: Callable[[str], None]
) -> Overload | None:
    """The row at 2x the chat mix's knee, between stretches of its first rate; None without a chat mix."""
    chat = [step for step in steps if step.mix == "chat"]
    knee = knee_rate(steps, "chat")
    if not chat or knee is None or seconds <= 0:
        return None
    time.sleep(SETTLE_SECONDS)  # the last step's backlog drains first
    started = time.monotonic()
    row = overload.measure(target.gateway, target.api_key, knee, chat[0].rate, seconds, progress)
    time.sleep(SETTLE_SECONDS)  # a scrape puts the last refusals in Prometheus
    window = int(time.monotonic() - started)
    shed = target.prometheus.values_by(
        f'sum by (service) (increase(http_server_requests_shed_total{{job="services"}}[{window}s]))',
        "service",
    )
    row.shed_by_service = {service: round(n) for service, n in sorted(shed.items()) if round(n)}
    return row


def compression(target: Target) -> Compression:
    logs = [path for program, path in target.log_files().items() if program.split("@")[0] in target.services]
    return Compression(logs=gzip_ratio(logs), spans=gzip_ratio(span_files(target.trace_dir)))


def measure(
    rates: dict[str, tuple[float, ...]],
    step_seconds: float,
    normal_seconds: float,
    command: str,
    overload_seconds: float = OVERLOAD_SECONDS,
) -> Result:
    """Runs the bench against the running local platform; the result the documents are written from."""

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    target = Target.running()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    steps, stopped = run(target, rates, step_seconds, normal_seconds, progress)
    overloaded = measure_overload(target, steps, overload_seconds, progress)
    return Result(
        command=command,
        started_at=started,
        machine=machine(),
        settings=Settings(
            rates={mix: list(r) for mix, r in rates.items()},
            step_seconds=step_seconds,
            normal_seconds=normal_seconds,
            normal=list(NORMAL),
            warmup=f"{WARMUP[1]:g} s at {WARMUP[0]:g} actions/s",
            seed=SEED,
            max_in_flight=MAX_IN_FLIGHT,
            weights=load.WEIGHTS,
        ),
        stopped=stopped,
        compression=compression(target),
        steps=steps,
        overload=overloaded,
    )
