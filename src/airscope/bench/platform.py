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
  HighLatency thresholds derive from (``airscope.bench.thresholds``).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from airscope.local import load, paths, runner
from airscope.local.process import proportional_bytes
from airscope.local.supervisor import Supervisor

MIXES: dict[str, dict[str, int]] = {
    "mixed": load.WEIGHTS,  # every flow, as `airscope load` sends them
    "chat": {"chat": 1},  # the gateway's chat path alone (issue 8's 50 requests/s goal)
}
NORMAL = ("mixed", 5)  # `airscope load`'s default rate: the platform's normal load here
SEED = 8  # one plan for every run: the same actions at every rate
WARMUP = (5.0, 10.0)  # rate, seconds: imports, connections and caches before the first step
MAX_IN_FLIGHT = 400  # far above what any step here holds open; a skipped action marks saturation
# After each step: the last spans leave their batch (the kit's local schedule is 1 s), the upload
# jobs and sagas it started finish, and one scrape (5 s locally) puts its last requests in Prometheus.
SETTLE_SECONDS = 8.0
KNEE_ERROR_RATIO = 0.01
KNEE_P95_FACTOR = 3.0  # p95 over all requests this many times the mix's first step's: the knee
PROBE_ROUTES = "/metrics|/health|/health/live|/health/ready"
REQUESTS = "http_server_request_duration_seconds"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- what one step measured ------------------------------------------------------------------------


@dataclass
class Latency:
    count: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: list[float], errors: int, window: float) -> Latency:
        ordered = sorted(seconds)
        return cls(
            count=len(ordered),
            errors=errors,
            rps=round(len(ordered) / window, 2),
            **{
                f"p{q}_ms": round(load.percentile(ordered, q / 100) * 1000, 1) if ordered else 0.0
                for q in (50, 95, 99)
            },
        )


@dataclass
class Usage:
    """One program's share of a step: CPU in cores over the step, memory (PSS) at its end."""

    cpu_cores: float
    memory_mib: float


@dataclass
class Telemetry:
    """What one service's telemetry weighed during a step."""

    log_bytes: int = 0
    spans: int = 0
    span_bytes: int = 0
    series: int = 0
    server_rps: float = 0.0
    server_p95_ms: float | None = None


@dataclass
class Step:
    mix: str
    rate: float
    seconds: float
    actions: int
    skipped: int
    sent: int
    answered: int
    errors: int
    overall: Latency
    routes: dict[str, Latency]  # "METHOD route" -> what the client saw
    services: dict[str, Latency]  # the service the gateway sent each route to -> what the client saw
    processes: dict[str, Usage]  # program -> CPU and memory
    load_generator_cpu_cores: float
    machine_cpu_cores: float  # every process on the machine, this one included
    telemetry: dict[str, Telemetry]  # service -> logs, spans, series, Prometheus' view
    head_series: int
    samples_per_second: float
    # Airtable allows 5 requests/s per base; airtable-gateway queues its calls to stay under it.
    airtable_calls_per_second: float
    airtable_wait_p95_ms: float | None

    @property
    def error_ratio(self) -> float:
        return self.errors / self.sent if self.sent else 0.0

    def past_knee(self, first: Step) -> str | None:
        """Why this step is past the mix's knee, or None."""
        if self.error_ratio > KNEE_ERROR_RATIO:
            return f"{self.error_ratio:.1%} errors (limit {KNEE_ERROR_RATIO:.0%})"
        if self.skipped:
            return f"{self.skipped} actions skipped: {MAX_IN_FLIGHT} still in flight"
        if first is not self and self.overall.p95_ms > KNEE_P95_FACTOR * first.overall.p95_ms:
            return (
                f"p95 {self.overall.p95_ms:.0f} ms, more than {KNEE_P95_FACTOR:g}x the "
                f"{first.overall.p95_ms:.0f} ms at {first.rate:g}/s"
            )
        return None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "error_ratio": round(self.error_ratio, 4)}


# --- counters read before and after a step ---------------------------------------------------------


def _cpu_ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def _machine_ticks() -> int:
    # The first line of /proc/stat: user nice system idle iowait irq softirq steal ...; busy = all but idle, iowait.
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) - values[3] - values[4]


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Snapshot:
    """Counters read at one moment: CPU ticks per program, bytes of every log and span file."""

    at: float
    ticks: dict[str, int]
    machine_ticks: int
    own_cpu: float
    files: dict[Path, tuple[int, int]]  # path -> (inode, size)

    @classmethod
    def take(cls, groups: dict[str, list[int]], files: Iterable[Path]) -> Snapshot:
        ticks = {}
        for program, pids in groups.items():
            total = 0
            for pid in pids:
                try:
                    total += _cpu_ticks(pid)
                except (OSError, ValueError, IndexError):  # ended since the listing
                    continue
            ticks[program] = total
        sizes = {}
        for path in files:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            sizes[path] = (stat.st_ino, stat.st_size)
        return cls(time.monotonic(), ticks, _machine_ticks(), _own_cpu_seconds(), sizes)


def grown_bytes(path: Path, before: tuple[int, int] | None, after: tuple[int, int] | None) -> int:
    """Bytes written to ``path`` between two (inode, size) readings. supervisord rotates a log by
    renaming it to ``.1``: a new inode means the rest of the old file is in ``.1``."""
    if after is None:
        return 0
    if before is None:
        return after[1]
    if before[0] == after[0]:
        return max(0, after[1] - before[1])
    try:
        rotated = path.with_name(path.name + ".1").stat().st_size
    except FileNotFoundError:
        rotated = before[1]
    return max(0, rotated - before[1]) + after[1]


def count_spans(lines: bytes) -> int:
    """Spans in OTLP/JSON lines (one ExportTraceServiceRequest per line, as the kit's file exporter writes)."""
    spans = 0
    for line in lines.splitlines():
        if not line.strip():
            continue
        for resource_spans in json.loads(line).get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                spans += len(scope_spans.get("spans", []))
    return spans


class SpanFiles:
    """Reads what each service appended to its span file since the last call (whole lines only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.offsets = {path: path.stat().st_size for path in directory.glob("*.jsonl")}

    def new_spans(self) -> dict[str, tuple[int, int]]:
        """service -> (spans, bytes) appended since the last call."""
        found: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for path in sorted(self.directory.glob("*.jsonl")):
            start = self.offsets.get(path, 0)
            with path.open("rb") as stream:
                stream.seek(start)
                chunk = stream.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self.offsets[path] = start + len(complete)
            service = path.stem.split("@")[0]
            found[service] += count_spans(complete)
            sizes[service] += len(complete)
        return {service: (found[service], sizes[service]) for service in found}


# --- Prometheus ----------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)

    def query(self, expr: str) -> list[dict]:
        answer = self.client.get("/api/v1/query", params={"query": expr})
        body = answer.json()
        if answer.status_code != 200 or body.get("status") != "success":
            raise RuntimeError(f"Prometheus refused {expr!r}: {body.get('error') or answer.text}")
        return body["data"]["result"]

    def by_service(self, expr: str) -> dict[str, float]:
        values = {}
        for row in self.query(expr):
            value = float(row["value"][1])
            if value == value:  # NaN: no request in the window
                values[row["metric"].get("service", "")] = value
        return values

    def scalar(self, expr: str) -> float:
        rows = self.query(expr)
        return float(rows[0]["value"][1]) if rows else 0.0


def prometheus_view(
    prometheus: Prometheus, window: int
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Per service: series, request rate and p95 over the last ``window`` seconds (probes excluded);
    for the platform: the head's series, samples appended per second, calls to Airtable per second
    and the p95 of their wait for airtable-gateway's rate limiter."""
    selector = f'job="services", route!~"{PROBE_ROUTES}"'
    per_service = {
        "series": prometheus.by_service('count by (service) ({job="services"})'),
        "rps": prometheus.by_service(f"sum by (service) (rate({REQUESTS}_count{{{selector}}}[{window}s]))"),
        "p95": prometheus.by_service(
            f"histogram_quantile(0.95, sum by (service, le) (rate({REQUESTS}_bucket{{{selector}}}[{window}s])))"
        ),
    }
    wait = prometheus.query(
        "histogram_quantile(0.95, sum by (le) "
        f'(rate(airtable_rate_limit_wait_seconds_bucket{{job="services"}}[{window}s])))'
    )
    wait_seconds = float(wait[0]["value"][1]) if wait else float("nan")
    platform = {
        "head_series": prometheus.scalar("sum(prometheus_tsdb_head_series)"),
        "samples": prometheus.scalar(f"sum(rate(prometheus_tsdb_head_samples_appended_total[{window}s]))"),
        "airtable_calls": prometheus.scalar(
            f'sum(rate(airtable_request_duration_seconds_count{{job="services"}}[{window}s]))'
        ),
        "airtable_wait": wait_seconds,
    }
    return per_service, platform


# --- one step --------------------------------------------------------------------------------------


def route_services() -> dict[str, str]:
    """The gateway's route templates -> the service each one is sent to."""
    from airscope.services.api_gateway.proxy import ROUTES

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
        routes[f"{method} {route}"] = Latency.of(seconds, errors[(method, route)], window)
        service = services.get(route, "api-gateway")
        by_service.setdefault(service, []).extend(seconds)
        by_service_errors[service] += errors[(method, route)]
        everything.extend(seconds)
    overall = Latency.of(everything, sum(errors.values()), window)
    return (
        overall,
        routes,
        {s: Latency.of(v, by_service_errors[s], window) for s, v in sorted(by_service.items())},
    )


@dataclass
class Platform:
    """The running local platform as the bench sees it."""

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
    def running(cls) -> Platform:
        plat = runner.platform()
        supervisor = Supervisor(plat.home)
        if not supervisor.running():
            raise RuntimeError(
                f"the local platform is not running (home {plat.home}): start it with `make up`"
            )
        from airscope import catalog

        return cls(
            gateway=f"http://127.0.0.1:{plat.service_ports['api-gateway']}",
            api_key=load.api_key(),
            supervisor=supervisor,
            prometheus=Prometheus(f"http://127.0.0.1:{plat.observability_ports['prometheus']}"),
            log_dir=paths.log_dir(),
            trace_dir=paths.trace_dir(),
            services=tuple(catalog.load().services),
        )

    def log_files(self) -> dict[str, Path]:
        return {program: self.supervisor.log_file(program) for program in self.supervisor.names()}


def measure_step(
    platform: Platform, mix: str, rate: float, seconds: float, progress: Callable[[str], None]
) -> Step:
    groups = platform.supervisor.processes()
    logs = platform.log_files()
    platform.spans.new_spans()  # what came before this step is not its
    before = Snapshot.take(groups, logs.values())
    settings = load.Settings(
        gateway=platform.gateway,
        api_key=platform.api_key,
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
    spans = platform.spans.new_spans()
    per_service, totals = prometheus_view(platform.prometheus, int(elapsed + SETTLE_SECONDS))
    overall, routes, services = client_view(run.tally, elapsed)
    tally = run.tally
    processes = {}
    for program, pids in sorted(groups.items()):
        rss = 0
        for pid in pids:
            try:
                rss += proportional_bytes(pid)
            except OSError:
                continue
        cores = (after.ticks.get(program, 0) - before.ticks.get(program, 0)) / CLK_TCK / elapsed
        processes[program] = Usage(round(cores, 3), round(rss / 2**20, 1))
    telemetry = {}
    for service in platform.services:
        log_bytes = sum(
            grown_bytes(path, before.files.get(path), after.files.get(path))
            for program, path in logs.items()
            if program.split("@")[0] == service
        )
        span_count, span_bytes = spans.get(service, (0, 0))
        p95 = per_service["p95"].get(service)
        telemetry[service] = Telemetry(
            log_bytes=log_bytes,
            spans=span_count,
            span_bytes=span_bytes,
            series=int(per_service["series"].get(service, 0)),
            server_rps=round(per_service["rps"].get(service, 0.0), 2),
            server_p95_ms=round(p95 * 1000, 1) if p95 is not None else None,
        )
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
        processes=processes,
        load_generator_cpu_cores=round((after.own_cpu - before.own_cpu) / elapsed, 3),
        machine_cpu_cores=round((after.machine_ticks - before.machine_ticks) / CLK_TCK / elapsed, 3),
        telemetry=telemetry,
        head_series=int(totals["head_series"]),
        samples_per_second=round(totals["samples"], 1),
        airtable_calls_per_second=round(totals["airtable_calls"], 2),
        airtable_wait_p95_ms=None
        if totals["airtable_wait"] != totals["airtable_wait"]
        else round(totals["airtable_wait"] * 1000, 1),
    )


# --- the run -----------------------------------------------------------------------------------------


def run(
    platform: Platform,
    rates: dict[str, tuple[float, ...]],
    step_seconds: float,
    normal_seconds: float,
    progress: Callable[[str], None],
) -> tuple[list[Step], dict[str, str]]:
    """Every mix up its rates until past its knee; the steps, and why each mix stopped. The normal
    load's step runs longer: the HighLatency thresholds need the rarer routes' p95 from it."""
    rate, seconds = WARMUP
    progress(f"warm-up: {rate:g} actions/s for {seconds:g} s (not measured)")
    warmup = load.Load(
        load.Settings(platform.gateway, platform.api_key, rps=rate, duration=seconds, seed=SEED + 1)
    )
    asyncio.run(warmup.run())
    time.sleep(SETTLE_SECONDS)
    steps: list[Step] = []
    stopped: dict[str, str] = {}
    for mix, mix_rates in rates.items():
        first = None
        for rate in mix_rates:
            seconds = normal_seconds if (mix, rate) == NORMAL else step_seconds
            progress(f"{mix} mix at {rate:g} actions/s for {seconds:g} s")
            step = measure_step(platform, mix, rate, seconds, progress)
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


# --- what the run as a whole records ----------------------------------------------------------------

SAMPLE_BYTES = 1 << 20  # the last MiB of each file: enough lines for a stable ratio


def gzip_ratio(paths: Iterable[Path]) -> float:
    """How much gzip (level 6) shrinks the tails of ``paths`` together: raw bytes / compressed."""
    import gzip

    raw = b""
    for path in paths:
        try:
            with path.open("rb") as stream:
                stream.seek(max(0, path.stat().st_size - SAMPLE_BYTES))
                chunk = stream.read()
        except FileNotFoundError:
            continue
        raw += chunk[chunk.find(b"\n") + 1 :]  # whole lines only
    return round(len(raw) / len(gzip.compress(raw, 6)), 2) if raw else 1.0


def compression(platform: Platform) -> dict[str, float]:
    logs = [
        path for program, path in platform.log_files().items() if program.split("@")[0] in platform.services
    ]
    return {"logs": gzip_ratio(logs), "spans": gzip_ratio(sorted(platform.trace_dir.glob("*.jsonl")))}


def machine() -> dict[str, Any]:
    import platform as host
    import subprocess

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        host.processor() or "unknown",
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "os": host.platform(),
        "python": host.python_version(),
        "commit": commit or "unknown",
    }
