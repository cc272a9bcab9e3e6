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
``tests/bench/test_platform_bench.py`` fails when the catalog and the kept baselines disagree.

Production has what no local run has: weeks of real traffic. ``week_queries`` is the same rule
applied to Prometheus' own recording rules (the typical 5-minute p95 of a range, the median of
``service:http_server_request_duration_seconds:histogram_quantile5m``, probes left out), and
``from_prometheus`` proposes the catalog's values from it (`airscope thresholds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from airscope import catalog, tables
from airscope.bench.result import Result, Step
from airscope.promapi import Prometheus
from airscope.stack import rules, settings
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


def from_p95(p95_seconds: float | None, requests: float) -> float | None:
    """The rule's measured part: the bucket at or above FACTOR x the p95 (and the floor); None when
    there is no p95 or it stands on fewer than MIN_REQUESTS requests."""
    if p95_seconds is None or requests < MIN_REQUESTS:
        return None
    return bucket_at_least(max(FLOOR_SECONDS, FACTOR * p95_seconds))


def with_slo_floor(name: str, value: float | None, services: Mapping[str, catalog.Service]) -> float | None:
    """A service waiting on an outside SaaS never goes below its SLO latency threshold."""
    if value is not None and name in services and name in waits_on_saas(dict(services)):
        return max(value, services[name].slo.latency_seconds)
    return value


def measured(result: Result) -> dict[str, float | None]:
    """service -> the bucket at or above FACTOR x its normal p95 (and the floor); None: too few requests."""
    step = _normal(result)
    return {
        service: from_p95(
            None if t.server_p95_ms is None else t.server_p95_ms / 1000, t.server_rps * step.seconds
        )
        for service, t in step.telemetry.items()
    }


def derive(result: Result) -> dict[str, float | None]:
    """service -> its HighLatency threshold in seconds; None: not measured, the SLO's applies."""
    services = catalog.load().services
    return {service: with_slo_floor(service, value, services) for service, value in measured(result).items()}


# --- where each threshold comes from --------------------------------------------------------------

MEASURED = "measured"
SLO_FLOOR = "SLO floor"
NO_DATA = "no measurement: the SLO's"


def source(name: str, measured_value: float | None, services: Mapping[str, catalog.Service]) -> str:
    """Whether the rule's answer for ``name`` is its measurement, or the SLO threshold it falls back
    to (nothing measured) or is raised to (it waits on an outside SaaS and measured below it)."""
    if measured_value is None:
        return NO_DATA
    derived = with_slo_floor(name, measured_value, services)
    return MEASURED if derived == measured_value else SLO_FLOOR


@dataclass(frozen=True)
class Proposal:
    """One service's HighLatency threshold as the rule derives it from a production range."""

    service: str
    requests: float  # over the range, probes left out
    p95_seconds: float | None  # the median 5-minute p95 over the range
    measured_seconds: float | None  # FACTOR x that p95, as a bucket (and FLOOR_SECONDS)
    waits_on_saas: bool
    slo_seconds: float
    proposed_seconds: float | None  # None: too few requests, the SLO's applies
    source: str
    in_catalog_seconds: float | None  # the catalog's high_latency_seconds now

    def as_json(self) -> dict:
        return asdict(self)


def week_queries(window: str = "7d") -> dict[str, str]:
    """The PromQL that re-derives the thresholds over ``window`` from Prometheus' recording rules."""
    p95 = f'{settings.LATENCY_QUANTILE}{{quantile="0.95"}}'
    return {
        # The typical 5-minute p95 of the range: a busy hour's and a quiet night's alike. The recording
        # rule leaves the probes out and records nothing for a window without requests.
        "p95": f"quantile_over_time(0.5, {p95}[{window}])",
        "requests": f"sum by (service) (increase({rules.REQUESTS}[{window}]))",
    }


def propose(
    p95: Mapping[str, float], requests: Mapping[str, float], services: Mapping[str, catalog.Service]
) -> list[Proposal]:
    """Every catalog service's proposal from a range's median p95 and request count by service."""
    waiting = waits_on_saas(dict(services))
    found = []
    for name, service in services.items():
        value = from_p95(p95.get(name), requests.get(name, 0.0))
        found.append(
            Proposal(
                service=name,
                requests=round(requests.get(name, 0.0)),
                p95_seconds=p95.get(name),
                measured_seconds=value,
                waits_on_saas=name in waiting,
                slo_seconds=service.slo.latency_seconds,
                proposed_seconds=with_slo_floor(name, value, services),
                source=source(name, value, services),
                in_catalog_seconds=service.high_latency_seconds,
            )
        )
    return found


def from_prometheus(prometheus: Prometheus, window: str = "7d") -> list[Proposal]:
    """The proposals from what ``prometheus`` (or Mimir's Prometheus API) recorded over ``window``."""
    queries = week_queries(window)
    return propose(
        prometheus.values_by(queries["p95"], "service"),
        prometheus.values_by(queries["requests"], "service"),
        catalog.load().services,
    )


def proposals_table(proposals: list[Proposal], window: str) -> str:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:g} s"

    rows = [
        (
            p.service,
            f"{p.requests:.0f}",
            "-" if p.p95_seconds is None else f"{p.p95_seconds * 1000:,.1f}",
            seconds(p.measured_seconds),
            "yes" if p.waits_on_saas else "no",
            seconds(p.slo_seconds),
            seconds(p.proposed_seconds)
            if p.proposed_seconds is not None
            else f"none: the SLO's {p.slo_seconds:g} s",
            p.source,
            seconds(p.in_catalog_seconds),
        )
        for p in proposals
    ]
    header = (
        "service",
        f"requests over {window}",
        "median p95 ms",
        f"{FACTOR:g}x p95, as a bucket",
        "waits on an outside SaaS",
        "SLO latency threshold",
        "proposed high_latency_seconds",
        "from",
        "in the catalog",
    )
    return tables.markdown(header, rows)


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
