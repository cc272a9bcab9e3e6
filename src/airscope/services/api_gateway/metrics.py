"""The gateway's domain metrics (the kit adds the RED metrics of its own routes)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from airscope.telemetry import LATENCY_BUCKETS

AUTH_FAILURE_REASONS = (
    "missing_credentials",
    "invalid_api_key",
    "invalid_token",
    "expired_token",
    "token_not_accepted",
)

UPSTREAM_DURATION = Histogram(
    "gateway_upstream_request_duration_seconds",
    "Duration of each request the gateway forwarded, by upstream service and outcome: the upstream's "
    "status code, or timeout / unreachable / not_deployed / shed (refused at the upstream's concurrency "
    "limit, GATEWAY_MAX_CONCURRENT_<SERVICE>). Its _count is the upstream request count.",
    ["upstream", "status"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "gateway_rate_limited_requests_total",
    "Requests refused with 429 because their client exceeded its token bucket, by gateway route template.",
    ["route"],
)
AUTH_FAILURES = Counter(
    "gateway_auth_failures_total",
    "Requests refused with 401, by reason: " + ", ".join(AUTH_FAILURE_REASONS) + ".",
    ["reason"],
)
RATE_LIMITER_ERRORS = Counter(
    "gateway_rate_limiter_errors_total",
    "Redis failures while rate limiting; each such request was let through (the limiter fails open).",
)

# Every reason exported from the start, so an alert on a rate sees 0 before the first failure.
for _reason in AUTH_FAILURE_REASONS:
    AUTH_FAILURES.labels(_reason)
