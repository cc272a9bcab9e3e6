"""airtable-gateway's domain metrics: how Airtable answers, how long we wait for it, what the cache saves."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Airtable is a SaaS API across the internet: typical answers take 100-500 ms, slow ones seconds,
# and our timeout is 10 s. The buckets resolve that range; 2 ms is a cache-speed stand-in answer.
AIRTABLE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
# The limiter holds a request for up to a few seconds when many wait on one base.
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

OPERATIONS = (
    "list_bases",
    "list_tables",
    "list_records",
    "get_record",
    "create_records",
    "update_records",
    "delete_records",
    "create_table",
    "update_table",
)
CACHED_OPERATIONS = ("list_bases", "list_tables", "list_records", "get_record")
RETRY_REASONS = ("rate_limited", "server_error", "timeout", "unreachable")
SAVED_REASONS = ("coalesced", "batched")

REQUEST_DURATION = Histogram(
    "airtable_request_duration_seconds",
    "Duration of each HTTP request sent to Airtable (every attempt, limiter wait excluded); status is "
    "Airtable's HTTP status code, or timeout / unreachable when no answer came.",
    ["operation", "status"],
    buckets=AIRTABLE_BUCKETS,
)
RATE_LIMIT_WAIT = Histogram(
    "airtable_rate_limit_wait_seconds",
    "Time a request to Airtable waited for a token of the client-side per-base rate limiter.",
    buckets=WAIT_BUCKETS,
)
RATE_LIMITED_RESPONSES = Counter(
    "airtable_rate_limited_responses_total",
    "429 answers received from Airtable (its per-base limit was exceeded despite the client-side limiter).",
)
RETRIES = Counter(
    "airtable_retries_total",
    "Requests to Airtable sent again, by operation and why (rate_limited, server_error, timeout, unreachable).",
    ["operation", "reason"],
)
CACHE_REQUESTS = Counter(
    "airtable_cache_requests_total",
    "Lookups in the Redis read cache by operation; result is hit or miss (a failing Redis counts as a miss).",
    ["operation", "result"],
)
CALLS_SAVED = Counter(
    "airtable_calls_saved_total",
    "Requests to Airtable not sent because the answer of another one served them: coalesced (an "
    "identical read in flight shared its answer) or batched (a write rode in another's request of up "
    "to 10 records).",
    ["reason"],
)
RATE_LIMIT_WINDOW = Gauge(
    "airtable_rate_limit_window_seconds",
    "The widest window of the client-side per-base limiter (AIRTABLE_RATE_LIMIT_PER_SECOND requests "
    "per window): 1.05 s, wider for a while after Airtable answered 429.",
)
POOL_CONNECTIONS = Gauge(
    "airtable_pool_connections",
    "Connections to Airtable in the HTTP client's pool, by state (in_use, idle), read at scrape time.",
    ["state"],
)
POOL_CONNECTIONS_LIMIT = Gauge(
    "airtable_pool_connections_limit",
    "The most connections to Airtable the HTTP client's pool may open (AIRTABLE_MAX_CONNECTIONS).",
)

# Every series exists from the start, so a rate() over them has a baseline before the first event.
for _operation in OPERATIONS:
    for _reason in RETRY_REASONS:
        RETRIES.labels(_operation, _reason)
for _operation in CACHED_OPERATIONS:
    for _result in ("hit", "miss"):
        CACHE_REQUESTS.labels(_operation, _result)
for _reason in SAVED_REASONS:
    CALLS_SAVED.labels(_reason)
