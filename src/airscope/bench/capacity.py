"""docs/capacity.md: what the telemetry of the production deployment weighs at the measured rate,
and at 10x and 100x, computed from the baselines of `airscope bench`.

Per request figures (log bytes, spans, span bytes) and per service figures (CPU, series) come
from the normal-load step; the production settings (scrape interval, sampling, retention) from
``airscope.stack.settings`` and the compose generator, so the document follows the config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from airscope import catalog as service_catalog
from airscope import tables
from airscope.bench.result import Result, Step
from airscope.stack import compose, settings
from airscope.units import parse_duration

MARKDOWN_PATH = "docs/capacity.md"
SCALES = (1, 10, 100)
# Prometheus' storage documentation: "on average, Prometheus uses only around 1-2 bytes per sample";
# the pessimistic end, as its own capacity formula suggests for planning.
BYTES_PER_SAMPLE = 2.0
# One instance is one uvicorn process: one event loop, at most one core. Planned at half of it, so
# that a burst or a lost instance does not push the others over.
CORES_PER_INSTANCE = 0.5
DAY = 86_400


@dataclass(frozen=True)
class Scale:
    """The platform at ``scale`` times the normal load: its request rate, instances and volumes."""

    scale: int
    requests_per_second: float
    instances: dict[str, int]  # service -> instances at CORES_PER_INSTANCE each
    series: float
    samples_per_second: float
    prometheus_bytes_per_day: float
    log_bytes_per_day: float
    log_bytes_per_day_compressed: float
    spans_per_day: float
    span_bytes_per_day: float
    span_bytes_per_day_compressed: float


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _normal(result: Result) -> Step:
    step = result.normal_step()
    if step is None:
        raise ValueError("the baselines hold no step at the normal load")
    return step


def model(result: Result) -> list[Scale]:
    """One row per scale: request rate, instances, series, samples/s, and the volumes per day."""
    step = _normal(result)
    rate = step.overall.rps
    per = step.per_request()
    service_series = {s: t.series for s, t in step.telemetry.items()}
    other_series = max(0, step.head_series - sum(service_series.values()))
    scrape = parse_duration(settings.COMPOSE.scrape_interval)
    sampling = float(compose.SAMPLE_RATIO.default)
    log_ratio, span_ratio = result.compression.logs, result.compression.spans
    rows = []
    for scale in SCALES:
        instances = {
            service: max(1, math.ceil(scale * _cores(step, service) / CORES_PER_INSTANCE))
            for service in service_series
        }
        series = sum(service_series[s] * instances[s] for s in service_series) + other_series
        samples = series / scrape
        requests_per_day = scale * rate * DAY
        rows.append(
            Scale(
                scale=scale,
                requests_per_second=scale * rate,
                instances=instances,
                series=series,
                samples_per_second=samples,
                prometheus_bytes_per_day=samples * DAY * BYTES_PER_SAMPLE,
                log_bytes_per_day=requests_per_day * per["log_bytes"],
                log_bytes_per_day_compressed=requests_per_day * per["log_bytes"] / log_ratio,
                spans_per_day=requests_per_day * per["spans"] * sampling,
                span_bytes_per_day=requests_per_day * per["span_bytes"] * sampling,
                span_bytes_per_day_compressed=requests_per_day * per["span_bytes"] * sampling / span_ratio,
            )
        )
    return rows


def _cores(step: Step, program: str) -> float:
    usage = step.processes.get(program)
    return usage.cpu_cores if usage else 0


def _by_scale_table(rows: list[Scale]) -> str:
    sampling = float(compose.SAMPLE_RATIO.default)

    def kept(days_of: str, per_day: list[float]) -> list[str]:
        return [_bytes(volume * parse_duration(days_of) / DAY) for volume in per_day]

    prometheus = [r.prometheus_bytes_per_day for r in rows]
    logs = [r.log_bytes_per_day_compressed for r in rows]
    spans = [r.span_bytes_per_day_compressed for r in rows]
    return tables.markdown(
        ("", *(f"{r.scale}x" for r in rows)),
        [
            ("requests/s through the gateway", *(f"{r.requests_per_second:,.1f}" for r in rows)),
            ("service instances (all eight)", *(f"{sum(r.instances.values())}" for r in rows)),
            ("active series", *(f"{r.series:,.0f}" for r in rows)),
            (
                f"samples/s (scrape every {settings.COMPOSE.scrape_interval})",
                *(f"{r.samples_per_second:,.0f}" for r in rows),
            ),
            ("Prometheus disk per day", *(_bytes(v) for v in prometheus)),
            (
                f"Prometheus disk for its {settings.PROMETHEUS_RETENTION_TIME} retention",
                *kept(settings.PROMETHEUS_RETENTION_TIME, prometheus),
            ),
            (
                f"Mimir blocks for its {settings.MIMIR_RETENTION} retention (same bytes per sample)",
                *kept(settings.MIMIR_RETENTION, prometheus),
            ),
            ("log volume per day, raw JSON", *(_bytes(r.log_bytes_per_day) for r in rows)),
            ("log volume per day, compressed (estimate)", *(_bytes(v) for v in logs)),
            (
                f"Loki for its {settings.LOKI_RETENTION} retention, compressed",
                *kept(settings.LOKI_RETENTION, logs),
            ),
            (f"spans per day at {sampling:.0%} sampling", *(f"{r.spans_per_day:,.0f}" for r in rows)),
            ("trace volume per day, OTLP/JSON", *(_bytes(r.span_bytes_per_day) for r in rows)),
            ("trace volume per day, compressed (estimate)", *(_bytes(v) for v in spans)),
            (
                f"Tempo for its {settings.TRACE_RETENTION} retention, compressed",
                *kept(settings.TRACE_RETENTION, spans),
            ),
        ],
    )


def _instances_table(step: Step, rows: list[Scale]) -> str:
    return tables.markdown(
        ("service", "CPU at 1x (cores)", *(f"instances at {r.scale}x" for r in rows)),
        [
            (service, f"{_cores(step, service):.3f}", *(str(r.instances[service]) for r in rows))
            for service in rows[0].instances
        ],
    )


def _inputs(result: Result, step: Step) -> list[str]:
    per = step.per_request()
    series = step.service_series()
    sampling = float(compose.SAMPLE_RATIO.default)
    return [
        f"- **Rate**: {step.overall.rps:.2f} requests/s through the gateway at the normal load "
        f"(`airscope load`'s mix at {step.rate:g} actions/s).",
        f"- **Per request** (all services): {per['log_bytes']:,.0f} log bytes, {per['spans']:.1f} spans, "
        f"{per['span_bytes']:,.0f} bytes of spans as OTLP/JSON (local mode records every span).",
        f"- **Series**: {series:,} from the eight services, {step.head_series - series:,} from "
        "everything else (exporters, Prometheus, Alertmanager, recording rules), as local Prometheus "
        "counted them. Series grow with instances, not with requests: each instance exposes its "
        "own. Instances are planned at "
        f"{CORES_PER_INSTANCE:g} core each from the CPU each service used at 1x.",
        f"- **Production settings**: scrape interval {settings.COMPOSE.scrape_interval}, "
        f"{sampling:.0%} head sampling of traces (`{compose.SAMPLE_RATIO.name}`), retention "
        f"Prometheus {settings.PROMETHEUS_RETENTION_TIME}, Mimir {settings.MIMIR_RETENTION}, Loki "
        f"{settings.LOKI_RETENTION}, Tempo {settings.TRACE_RETENTION}.",
        f"- **Bytes per sample**: {BYTES_PER_SAMPLE:g}, the top of the 1-2 bytes Prometheus' storage "
        "documentation gives (`needed_disk_space = retention_time_seconds * "
        "ingested_samples_per_second * bytes_per_sample`); the WAL and the index come on top.",
        f"- **Compression** (estimates): the services' JSON log lines of the run shrank "
        f"{result.compression.logs:.1f}x and their OTLP/JSON spans "
        f"{result.compression.spans:.1f}x under gzip (level 6), measured by the bench on "
        "its own output. Loki's chunks (snappy by default) and Tempo's Parquet blocks compress "
        "differently; read these as the order of magnitude, not a promise.",
    ]


def markdown(result: Result) -> str:
    step = _normal(result)
    rows = model(result)
    return "\n".join(
        [
            "# Capacity",
            "",
            "What the platform's telemetry weighs in production (the compose deployment), computed by "
            "`airscope bench` from the figures it measured ([performance-baselines.md]"
            "(performance-baselines.md), run of "
            f"{result.started_at}) and from the production settings the stack is generated with. "
            "1x is the normal load of the baselines; 10x and 100x scale it. Written again with every "
            "bench run (`airscope bench --from-json docs/performance/baselines.json` rewrites it from the "
            "kept figures); the notes on each scale are in `src/airscope/bench/capacity.py`.",
            "",
            "## Inputs",
            "",
            *_inputs(result, step),
            "",
            "## At 1x, 10x and 100x",
            "",
            _by_scale_table(rows),
            "",
            "## Instances per service",
            "",
            _instances_table(step, rows),
            "",
            "## What changes at each scale",
            "",
            SCALE_NOTES[0],
            _ten_times(),
            SCALE_NOTES[1],
            "",
        ]
    )


def fixed_in_place() -> list[str]:
    """The catalog services whose compose container publishes a host port or holds a fixed address:
    a second replica of one cannot bind the same port or take the same address."""
    services = service_catalog.load().services
    return [
        name
        for name, spec in compose.compose(service_catalog.load())["services"].items()
        if name in services
        and (
            "ports" in spec or any("ipv4_address" in (net or {}) for net in spec.get("networks", {}).values())
        )
    ]


def _ten_times() -> str:
    fixed = " and ".join(fixed_in_place())
    return (
        "- **10x**: the services scale out (the table above) and Prometheus discovers every instance: "
        "series grow with instances, so keep labels bounded (route templates, closed sets) as the kit "
        f"does. In compose, `deploy.replicas` can scale every service but {fixed}: they publish a "
        "fixed host port (and the frontend holds the one address whose `X-Forwarded-For` the gateway "
        "believes), so more of them means more hosts behind a load balancer (and the gateway trusting "
        "each frontend's address), or Kubernetes. One Prometheus and one "
        "monolithic Loki, Tempo and Mimir still carry it; move their storage to object storage "
        "(S3, GCS) before local disks fill. Head sampling at 10 % keeps trace volume modest, but "
        "drops most error traces with the rest: put an OpenTelemetry Collector with tail sampling "
        "(keep every trace with an error or above the latency threshold, a share of the rest) in "
        "front of Tempo and Jaeger."
    )


SCALE_NOTES = (
    "- **1x**: the compose deployment as generated: one instance of each service, one Prometheus "
    "with local disk, Loki, Tempo and Mimir each as one monolithic process (`-target=all`) on a "
    "local volume, 10 % head sampling. Every volume above is small for one machine; Prometheus' "
    "retention size cap (`--storage.tsdb.retention.size`) is far away.",
    "- **100x**: split the backends: Mimir, Loki and Tempo in their microservices (or Loki's "
    "simple scalable) mode, distributors and ingesters scaled on their own, object storage "
    "underneath; Prometheus becomes a scraper (agent mode) that remote-writes to Mimir, one per "
    "failure domain. Sample traces at 1 % or less with tail sampling for errors and slow requests; "
    'shorten Loki\'s retention for access lines (per-stream retention on `logger="access"`) or '
    "drop the 2xx ones at Alloy and keep the metrics as the record of traffic; alert on "
    "ingestion limits (Loki's and Mimir's per-tenant rate limits) before they drop data.",
)
