"""Every drill: its fault, the alert that must reach a human and how soon, and the alerts the same
fault may rightly raise beside it.

The bounds are the goals of docs/alerting.md for the local profile (5 s scrapes, the local `for`s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airscope import catalog
from airscope.local.drills.faults import (
    CHATS,
    READS,
    RECORDS,
    SAGAS,
    UPLOADS,
    BurnCpu,
    Burst,
    FillDisk,
    HoldMemory,
    LongImport,
    SpendBudget,
    StandinFault,
    StopProgram,
)
from airscope.local.drills.profiles import CPU, MEMORY, Attach
from airscope.local.drills.watch import Labels

RESOLVE_WITHIN = 60.0  # seconds from healing to the resolved notification
DEFAULT_SERVICE = "mcp-server"  # the target of service-down and memory unless --service names another
# The drills `make test` runs: about a minute and a half each (target-down about 30 s: it proves the
# watchers' TargetDown, without which DiskSpaceLow and host memory can go blind unnoticed).
# chat-failures is one because nothing else proves, end to end, the one alert that sees a broken
# chat answered 200.
# error-burst before chat-failures: both spend airtable-gateway's error budget, and the
# ErrorBudgetBurn they may raise takes minutes to resolve and mutes HighErrorRate, error-burst's
# alert (Scenario.muted_by): run second, error-burst would wait those minutes first. chat-failures'
# alert is muted by no budget alert.
QUICK = ("service-down", "redis-down", "postgres-down", "target-down", "error-burst", "chat-failures")

# What a burst of errors or slowness also spends: the budgets are meant to notice it.
BUDGETS = ({"alertname": "ErrorBudgetBurn"}, {"alertname": "LatencyBudgetBurn"})
# What Airtable failing also raises beside the drill's own alert: airtable-gateway's 502s and its
# retries' latency, the MCP tools and chats that call it, and the jobs and sagas that need it (the
# record-count workflows earlier onboardings registered run every few minutes and may be given up).
AIRTABLE_FAILING = (
    {"alertname": "HighErrorRate", "service": "airtable-gateway"},
    {"alertname": "HighLatency", "service": "airtable-gateway"},
    {"alertname": "MCPToolErrors"},
    {"alertname": "ChatAnswersFailing"},
    {"alertname": "JobsDeadLettered"},
    {"alertname": "SagasFailing"},
    *BUDGETS,
)
# What Airtable slowed or throttled raises beside the drill's own: airtable-gateway's latency.
AIRTABLE_SLOW = (
    {"alertname": "HighLatency", "service": "airtable-gateway"},
    {"alertname": "LatencyBudgetBurn"},
)


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: object  # a faults.Fault
    expect: Labels
    notify_within: float
    tolerate: tuple[Labels, ...] = ()
    # Requests in flight at once through the gateway for the whole drill; 0: no traffic.
    traffic: int = 0
    doc: str = field(default="")
    traffic_kind: str = RECORDS  # what that traffic is (faults.Traffic): Airtable reads or chats
    traffic_rps: float = 2.0
    # The alerts whose firing mutes the expected one in Alertmanager (its inhibitions): a muted alert
    # notifies no one, so the drill first waits for these to resolve too, or it would time the
    # inhibition instead of the path from the fault to the owner.
    muted_by: tuple[Labels, ...] = ()
    # The profile the drill attaches to its report, taken while the fault is active (profiles.py).
    profile: Attach | None = None


# The latency drill slows Airtable to this multiple of airtable-gateway's HighLatency threshold:
# every request lands in the bucket above the threshold, well under the 10 s Airtable timeout.
LATENCY_FACTOR = 1.5

# The cpu-hog drill: the service whose HighLatency the drill's own traffic trips most cheaply. Its
# threshold is the lowest (1 s, with platform-services'), and one upload through the gateway is one
# request to it: at the uploads' half a request a second, a burn of a second per request keeps its
# event loop half busy, so every upload is slow by the burn itself, not by a queue that would also
# delay its scrapes and probes. platform-services, the other 1 s service, sees no drill traffic of
# its own (only activity reports beside other requests).
CPU_HOG_SERVICE = "automation-services"
# The switch's ceiling (PUT /_drill/cpu takes 1 to 1000 ms): with the request's own work each upload
# takes longer than its 1 s threshold, in the histogram bucket above it.
CPU_HOG_MS = 1000

# The chat-failures drill's chats: one a second, well above ChatAnswersFailing's floor of chats
# answered in 5 minutes. A failing chat waits on airtable-gateway's retries of Airtable (seconds):
# a few may be in flight at once, few enough that the retries stay under its 5 requests/s.
CHAT_TRAFFIC_RPS = 1.0
CHAT_TRAFFIC_IN_FLIGHT = 4
# From the fault: the failing answers must pass 20% of the chats of the 5-minute window (at once on
# a platform without chats before, up to a minute behind a window full of good ones), then the
# local `for` (30 s), a scrape, an evaluation and Alertmanager's grouping.
CHAT_FAILURES_WITHIN = 120

# Sagas and uploads: one every two seconds, a few in flight. A failing saga waits on its step's
# retries (seconds) before it is undone; an upload answers at once (the import runs later).
SAGA_TRAFFIC_RPS = 0.5
UPLOAD_TRAFFIC_RPS = 0.5
# QueueBacklog fires once the next job has waited its threshold (120 s, the same in both profiles),
# then its local `for` (10 s), a scrape, an evaluation and the grouping: the drill cannot notify
# sooner than the threshold itself, so its bound is the threshold plus the usual minute.
QUEUE_BACKLOG_WITHIN = 180
# airtable-saturated: uncached reads of the demo base at 8 a second, above Airtable's 5 per base:
# the limiter's queue grows to the traffic's 16 in flight, about 3 s of wait each.
SATURATING_RPS = 8.0
SATURATING_IN_FLIGHT = 16
# airtable-429: the Airtable stand-in refuses 30% of the requests with 429 (Retry-After: 1 s): about
# one 429 every two seconds at 2 reads a second, and airtable-gateway's 3 attempts get all but
# 0.3^3 = 2.7% of the reads through (at 50%, 1 in 8 ran out of attempts: 503 airtable_rate_limited,
# which HighErrorRate rightly counted).
RATE_LIMITED_SHARE = 0.3


def _store_down(program: str, alertname: str, what: str) -> Scenario:
    """A store stopped: its exporter, which cannot reach it any more, raises ``alertname``."""
    return Scenario(
        f"{program}-down",
        StopProgram(program),
        {"alertname": alertname, "source": "exporter"},
        30,
        doc=f"{what} stopped",
    )


def scenarios(service: str = DEFAULT_SERVICE) -> dict[str, Scenario]:
    slow = catalog.load().services["airtable-gateway"].alert_latency_seconds * LATENCY_FACTOR
    found = [
        Scenario(
            "service-down",
            StopProgram(service),
            {"alertname": "ServiceDown", "service": service},
            30,
            doc=f"{service} stopped (every instance)",
        ),
        _store_down("redis", "RedisConnectionFailure", "Redis"),
        _store_down("postgres", "DatabaseConnectionFailure", "PostgreSQL"),
        Scenario(
            "error-burst",
            StandinFault("airtable", {"error_rate": 1.0}),
            # HighErrorRate, a warning to data-team's chat: it fires first (30 s locally, where the
            # page, ErrorBudgetBurn, waits 2m) and resolves within a minute of healing. Should the
            # burst go on, ErrorBudgetBurn pages and mutes it (tolerated below, with the budgets).
            {"alertname": "HighErrorRate", "service": "airtable-gateway"},
            90,
            # The gateway passes airtable-gateway's 502s on; retries of failing reads take longer.
            tolerate=({"alertname": "HighErrorRate"}, {"alertname": "HighLatency"}, *AIRTABLE_FAILING),
            # One at a time: airtable-gateway retries failing reads within its 5 requests/s per base,
            # so concurrent reads pile up behind its rate limiter and stay slow long after healing.
            traffic=1,
            doc="Airtable (the stand-in) answers every request with 500",
            muted_by=(
                {"alertname": "ErrorBudgetBurn", "service": "airtable-gateway", "severity": "critical"},
            ),
        ),
        Scenario(
            "chat-failures",
            # The same switch as error-burst, seen from the chat: mcp-server's Airtable tools fail,
            # and the model answers every chat (200) with the failure.
            StandinFault("airtable", {"error_rate": 1.0}),
            {"alertname": "ChatAnswersFailing", "service": "llm-orchestrator"},
            CHAT_FAILURES_WITHIN,
            # airtable-gateway answers mcp-server's tools 502 (and spends budget), slower with its
            # retries; the chats themselves are answered 200, so api-gateway raises nothing.
            tolerate=AIRTABLE_FAILING,
            traffic=CHAT_TRAFFIC_IN_FLIGHT,
            traffic_kind=CHATS,
            traffic_rps=CHAT_TRAFFIC_RPS,
            doc="Airtable (the stand-in) answers every request with 500 while chats go through the gateway",
        ),
        Scenario(
            "latency",
            StandinFault("airtable", {"extra_latency_ms": slow * 1000}),
            {"alertname": "HighLatency", "service": "airtable-gateway"},
            90,
            tolerate=({"alertname": "HighLatency"}, *BUDGETS),
            traffic=8,  # 8 requests in flight through the gateway, most of them waiting on Airtable
            doc=f"Airtable (the stand-in) answers {slow:g} s later ({LATENCY_FACTOR:g}x airtable-gateway's "
            "HighLatency threshold)",
            muted_by=(
                {"alertname": "LatencyBudgetBurn", "service": "airtable-gateway", "severity": "critical"},
            ),
            # The slowed service's CPU: next to nothing, its time is spent waiting on Airtable (which
            # is what tells this fault from cpu-hog's).
            profile=Attach(CPU, "airtable-gateway"),
        ),
        Scenario(
            "cpu-hog",
            BurnCpu(CPU_HOG_SERVICE, CPU_HOG_MS),
            {"alertname": "HighLatency", "service": CPU_HOG_SERVICE},
            90,
            # Every upload is slow: the service's latency budget burns too, and its critical burn
            # would mute the drill's alert (waited out first, as the latency drill does).
            tolerate=BUDGETS,
            traffic=4,
            traffic_kind=UPLOADS,
            traffic_rps=UPLOAD_TRAFFIC_RPS,
            doc=f"{CPU_HOG_SERVICE} burns {CPU_HOG_MS} ms of CPU in every request while files are "
            "uploaded through the gateway: slow by its own code, nothing it waits on is slow",
            muted_by=(
                {"alertname": "LatencyBudgetBurn", "service": CPU_HOG_SERVICE, "severity": "critical"},
            ),
            profile=Attach(CPU, CPU_HOG_SERVICE),
        ),
        Scenario(
            "memory",
            HoldMemory(service),
            {"alertname": "HighMemoryUsage", "service": service, "scope": "service"},
            90,
            doc=f"{service} holds 95% of its catalog memory limit",
            # Started before the memory is held, so that the allocation is traced.
            profile=Attach(MEMORY, service),
        ),
        Scenario(
            "target-down",
            StopProgram("node-exporter"),
            {"alertname": "TargetDown", "job": "node"},
            30,
            doc="the node exporter stopped: the host's disks and memory go unwatched",
        ),
        Scenario(
            "sagas-failing",
            StandinFault("airtable", {"error_rate": 1.0}),
            {"alertname": "SagasFailing", "service": "saga-orchestrator", "severity": "warning"},
            90,
            tolerate=AIRTABLE_FAILING,
            traffic=4,
            traffic_kind=SAGAS,
            traffic_rps=SAGA_TRAFFIC_RPS,
            doc="Airtable (the stand-in) answers every request with 500 while onboardings go through the "
            "gateway: each is undone once creating its table fails",
        ),
        Scenario(
            "jobs-dead-lettered",
            StandinFault("airtable", {"error_rate": 1.0}),
            {"alertname": "JobsDeadLettered", "service": "automation-services", "queue": "imports"},
            90,
            tolerate=AIRTABLE_FAILING,
            traffic=4,
            traffic_kind=UPLOADS,
            traffic_rps=UPLOAD_TRAFFIC_RPS,
            doc="Airtable (the stand-in) answers every request with 500 while files are uploaded through "
            "the gateway: each import fails its 3 attempts and is given up",
        ),
        Scenario(
            "queue-backlog",
            LongImport(),
            {"alertname": "QueueBacklog", "service": "automation-services", "queue": "imports"},
            QUEUE_BACKLOG_WITHIN,
            # The workflow runs read the slowed Airtable too; runs registered by earlier onboardings
            # may queue behind each other.
            tolerate=(*AIRTABLE_SLOW, {"alertname": "QueueBacklog", "queue": "runs"}),
            doc="Airtable (the stand-in) answers 7 s later while a 300-row file holds the only import "
            "worker and a second file waits behind it",
        ),
        Scenario(
            "llm-budget",
            SpendBudget(),
            {"alertname": "LLMBudgetExhausted", "service": "llm-orchestrator"},
            90,
            doc="today's LLM spend recorded up to the daily budget: every chat is refused with 429",
        ),
        Scenario(
            "mcp-tool-errors",
            # chat-failures' fault and traffic, seen from mcp-server: the tools the model calls fail.
            StandinFault("airtable", {"error_rate": 1.0}),
            {"alertname": "MCPToolErrors", "service": "mcp-server"},
            90,
            tolerate=AIRTABLE_FAILING,
            traffic=CHAT_TRAFFIC_IN_FLIGHT,
            traffic_kind=CHATS,
            traffic_rps=CHAT_TRAFFIC_RPS,
            doc="Airtable (the stand-in) answers every request with 500 while chats go through the gateway: "
            "the MCP tools the model calls fail",
        ),
        Scenario(
            "airtable-429",
            StandinFault("airtable", {"rate_limited_rate": RATE_LIMITED_SHARE}),
            {"alertname": "AirtableRateLimited", "service": "airtable-gateway"},
            90,
            # A read refused 3 times in a row is answered 503 airtable_rate_limited, passed on by the
            # gateway: a few such reads can pass HighErrorRate's 5%.
            tolerate=(*AIRTABLE_SLOW, {"alertname": "HighErrorRate"}, {"alertname": "ErrorBudgetBurn"}),
            traffic=4,
            doc=f"Airtable (the stand-in) refuses {RATE_LIMITED_SHARE:.0%} of the requests with 429 while "
            "reads go through the gateway",
        ),
        Scenario(
            "airtable-saturated",
            Burst(READS, SATURATING_RPS, SATURATING_IN_FLIGHT),
            {"alertname": "AirtableLimiterSaturated", "service": "airtable-gateway"},
            90,
            # Under this load the Airtable stand-in refuses some requests with 429 although the
            # limiter spaced them (the first run: 60 in 3 minutes): a request that leaves late on the
            # busy event loop arrives closer to the next one than its 1.05 s window. Real, and
            # AirtableRateLimited is right to say so.
            tolerate=(*AIRTABLE_SLOW, {"alertname": "AirtableRateLimited", "service": "airtable-gateway"}),
            doc=f"a client reads {SATURATING_RPS:g} uncached pages of the demo base a second through the "
            "gateway, above Airtable's 5 per base",
        ),
        Scenario(
            "disk",
            FillDisk(),
            {"alertname": "DiskSpaceLow", "severity": "critical"},
            90,
            doc="a 64 MiB filesystem filled to 97%",
        ),
    ]
    return {scenario.name: scenario for scenario in found}
