"""HighLatency thresholds from the baselines: a multiple of each service's p95 at normal load.

Rule: the smallest latency bucket at or above ``FACTOR`` times the service's p95 as Prometheus
measured it (probes excluded) at the normal load of the last `airscope bench` run, and at least
``FLOOR_SECONDS``. A bucket,
because a histogram knows a latency only to its bucket; four times, because the normal p95 moves
by about a factor of two between runs on this shared machine and with the mix's rarer, slower
requests (a saga, an upload), and a warning must not fire on a normal day. A service with fewer
than ``MIN_REQUESTS`` requests in the normal step has no measured p95: it keeps its SLO's latency
threshold (``derive`` answers None).

The baselines are measured against the stand-ins at zero added latency. A service whose answers
wait on an outside SaaS (it reaches one, or calls a service that does: the catalog says which) is
slower in production by the provider's own latency, which no local run can show; its threshold
is therefore never below its SLO latency threshold, which was set for the providers' real
latency. The derivation can raise it (airtable-gateway: normal load already queues for Airtable's
rate limit), not lower it. The catalog holds the result (``high_latency_seconds``);
``tests/bench/test_thresholds.py`` fails when the catalog and the kept baselines disagree.
"""

from __future__ import annotations

from airscope import catalog, tables
from airscope.bench.result import Result, Step
from airscope.telemetry import LATENCY_BUCKETS

FACTOR = 4.0
MIN_REQUESTS = 20
# Below a quarter of a second nobody waits on purpose: a warning for a 10 ms service at 40 ms would
# page for noise (a GC pause, a cold cache) and miss nothing a user feels.
FLOOR_SECONDS = 0.25


def bucket_at_least(seconds: float) -> float:
    return next((bound for bound in LATENCY_BUCKETS if bound >= seconds), LATENCY_BUCKETS[-1])


def _normal(result: Result) -> Step:
    step = result.normal_step()
    if step is None:
        raise ValueError("the baselines hold no step at the normal load")
    return step


def waits_on_saas(services: dict[str, catalog.Service]) -> set[str]:
    """The services that reach an outside SaaS, or call one that does (transitively)."""
    waiting = {name for name, service in services.items() if service.external}
    while grown := {
        name for name, service in services.items() if name not in waiting and waiting & set(service.calls)
    }:
        waiting |= grown
    return waiting


def measured(result: Result) -> dict[str, float | None]:
    """service -> the bucket at or above FACTOR x its normal p95 (and the floor); None: too few requests."""
    step = _normal(result)
    found: dict[str, float | None] = {}
    for service, t in step.telemetry.items():
        requests = t.server_rps * step.seconds
        p95 = t.server_p95_ms
        enough = p95 is not None and requests >= MIN_REQUESTS
        found[service] = bucket_at_least(max(FLOOR_SECONDS, FACTOR * p95 / 1000)) if enough else None
    return found


def derive(result: Result) -> dict[str, float | None]:
    """service -> its HighLatency threshold in seconds; None: not measured, the SLO's applies."""
    services = catalog.load().services
    waiting = waits_on_saas(services)
    thresholds: dict[str, float | None] = {}
    for service, value in measured(result).items():
        if value is not None and service in waiting and service in services:
            value = max(value, services[service].slo.latency_seconds)
        thresholds[service] = value
    return thresholds


def markdown(result: Result) -> str:
    step = _normal(result)
    services = catalog.load().services
    waiting = waits_on_saas(services)
    found = measured(result)
    rows = []
    for service, threshold in derive(result).items():
        t = step.telemetry[service]
        slo = services[service].slo if service in services else None
        in_catalog = services[service].high_latency_seconds if service in services else None
        rows.append(
            (
                service,
                f"{t.server_rps * step.seconds:.0f}",
                "-" if t.server_p95_ms is None else f"{t.server_p95_ms:,.1f}",
                f"{found[service]:g} s" if found[service] is not None else "too few requests",
                "yes" if service in waiting else "no",
                f"{slo.latency_seconds:g} s" if slo else "-",
                f"**{threshold:g} s**"
                if threshold is not None
                else f"none: the SLO's {slo.latency_seconds:g} s",
                f"{in_catalog:g} s" if in_catalog is not None else "-",
            )
        )
    return (
        f"HighLatency fires when a service's p95 stays above its threshold (see "
        f"[alerting.md](alerting.md)). Each threshold is the smallest latency bucket at or above "
        f"{FACTOR:g}x the service's p95 at the normal load, as Prometheus measured it (probes excluded), "
        f"and at least {FLOOR_SECONDS:g} s (below that a warning would be noise no user feels); "
        f"a service with fewer than {MIN_REQUESTS} requests in that step keeps its SLO latency threshold. "
        "These runs use the stand-ins at zero added latency, so a service whose answers wait on an "
        "outside SaaS (it reaches Airtable or the LLM provider, or calls a service that does) would be "
        "slower in production by the provider's own latency, which no local run can show: its "
        "threshold is never below its SLO latency threshold, which was set for the providers' real "
        "latency. The measurement can raise it, not lower it. The catalog holds the results "
        "(`high_latency_seconds`), and a test fails when it and these baselines disagree. In "
        "production, the same rule applied to a normal week's p95 (Prometheus' "
        "`service:http_server_request_duration_seconds:histogram_quantile5m`) is the better anchor.\n\n"
        + tables.markdown(
            (
                "service",
                "requests at normal load",
                "p95 ms",
                f"{FACTOR:g}x p95, as a bucket",
                "waits on an outside SaaS",
                "SLO latency threshold",
                "HighLatency threshold",
                "in the catalog",
            ),
            rows,
        )
    )
