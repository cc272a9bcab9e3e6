"""The gateway's request counters and latency histogram against what the client sent and saw."""

from __future__ import annotations

from collections import Counter

from airscope.promapi import Prometheus
from airscope.stack import settings
from airscope.telemetry import LATENCY_BUCKETS

REQUESTS = "http_server_request_duration_seconds_count"
BUCKETS = "http_server_request_duration_seconds_bucket"
# The client's time holds the server's and what its timer cannot see: the wait before the gateway's
# event loop takes the request up and the client's own scheduling and garbage collection. On a busy
# 2-core machine that tail is tens of milliseconds and more (seen: 25 ms served, 68 and 92 ms seen),
# so a client p95 above the histogram's is a mismatch only when it is far above; a histogram p95
# above the client's is one as soon as it is more than a bucket above (nothing can make it so).
CLIENT_SLACK_SECONDS = 0.25


def _selector(metric: str, service: str) -> str:
    return f'{metric}{{job="{settings.SERVICES_JOB}", service="{service}"}}'


def _counts(prometheus: Prometheus, service: str, at: float) -> Counter:
    samples = prometheus.query(f"sum by (method, route, status) ({_selector(REQUESTS, service)})", at)
    return Counter(
        {(s.labels["method"], s.labels["route"], int(s.labels["status"])): s.value or 0.0 for s in samples}
    )


def count_mismatches(
    prometheus: Prometheus, sent: dict[tuple[str, str, int], int], start: float, end: float, service: str
) -> list[str]:
    """Where the gateway's counters, read at ``start`` and ``end``, do not count exactly what was sent.

    ``sent`` maps (method, route template, status) to the client's count; only routes in it are
    compared (probes and scrapes reach the gateway too)."""
    before, after = _counts(prometheus, service, start), _counts(prometheus, service, end)
    routes = {(method, route) for method, route, _ in sent}
    counted = {
        key: after[key] - before[key] for key in after if key[:2] in routes and after[key] - before[key]
    }
    problems = []
    for key in sorted(set(counted) | set(sent), key=str):
        if counted.get(key, 0) != sent.get(key, 0):
            method, route, status = key
            problems.append(
                f"{method} {route} {status}: the client sent {sent.get(key, 0)}, "
                f"Prometheus counted {counted.get(key, 0):g}"
            )
    return problems


def bucket_index(seconds: float) -> int:
    return next((i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS))


def _server_p95(
    prometheus: Prometheus, service: str, start: float, end: float
) -> dict[tuple[str, str], float]:
    """The p95 per (method, route) of the requests the histogram counted between ``start`` and ``end``.

    The buckets' exact growth between the two readings (``@``), not ``increase()``: its
    extrapolation scales each bucket by how far its own count is from zero, which skews a quantile
    of a few dozen requests towards the buckets earlier requests filled."""
    selector = _selector(BUCKETS, service)
    at_end, at_start = f"{selector} @ {end:.3f}", f"{selector} @ {start:.3f}"
    # A series first seen inside the window has no reading at the start: all of it is growth.
    growth = f"({at_end} - {at_start}) or ({at_end} unless {at_start})"
    samples = prometheus.query(f"histogram_quantile(0.95, sum by (le, method, route) ({growth}))", end)
    # No requests in a route's window make its quantile NaN (None): no histogram to compare.
    return {(s.labels["method"], s.labels["route"]): s.value for s in samples if s.value is not None}


def p95_mismatches(
    prometheus: Prometheus,
    client_p95: dict[tuple[str, str], float],
    start: float,
    end: float,
    service: str,
    at_least: int = 20,
    counts: dict[tuple[str, str], int] | None = None,
) -> list[str]:
    """Routes whose p95 from the histogram is more than one bucket above the client's, or more than
    one bucket and ``CLIENT_SLACK_SECONDS`` below it.

    Routes with fewer than ``at_least`` requests are skipped: their p95 is one request's latency."""
    server = _server_p95(prometheus, service, start, end)
    problems = []
    for key, seconds in sorted(client_p95.items()):
        if counts is not None and counts.get(key, 0) < at_least:
            continue
        if key not in server:
            problems.append(f"{key[0]} {key[1]}: no histogram in Prometheus")
            continue
        client_bucket, server_bucket = bucket_index(seconds), bucket_index(server[key])
        overstated = server_bucket - client_bucket > 1
        understated = client_bucket - server_bucket > 1 and seconds - server[key] > CLIENT_SLACK_SECONDS
        if overstated or understated:
            problems.append(
                f"{key[0]} {key[1]}: p95 {server[key] * 1000:.0f} ms in Prometheus, {seconds * 1000:.0f} ms "
                "at the client: more than one bucket apart"
            )
    return problems
