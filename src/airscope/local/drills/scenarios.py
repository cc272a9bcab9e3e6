"""Every drill: its fault, the alert that must reach a human and how soon, and the alerts the same
fault may rightly raise beside it.

The bounds are the goals of docs/alerting.md for the local profile (5 s scrapes, the local `for`s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airscope import catalog
from airscope.local.drills.faults import FillDisk, HoldMemory, StandinFault, StopProgram
from airscope.local.drills.watch import Labels

RESOLVE_WITHIN = 60.0  # seconds from healing to the resolved notification
DEFAULT_SERVICE = "mcp-server"  # the target of service-down and memory unless --service names another
QUICK = ("service-down", "redis-down", "postgres-down", "error-burst")  # the drills `make test` runs

# What a burst of errors or slowness also spends: the budgets are meant to notice it.
BUDGETS = ({"alertname": "ErrorBudgetBurn"}, {"alertname": "LatencyBudgetBurn"})


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


# The latency drill slows Airtable to this multiple of airtable-gateway's HighLatency threshold:
# every request lands in the bucket above the threshold, well under the 10 s Airtable timeout.
LATENCY_FACTOR = 1.5


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
        Scenario(
            "redis-down",
            StopProgram("redis"),
            {"alertname": "RedisConnectionFailure", "source": "exporter"},
            30,
            doc="Redis stopped",
        ),
        Scenario(
            "postgres-down",
            StopProgram("postgres"),
            {"alertname": "DatabaseConnectionFailure", "source": "exporter"},
            30,
            doc="PostgreSQL stopped",
        ),
        Scenario(
            "error-burst",
            StandinFault("airtable", {"error_rate": 1.0}),
            {"alertname": "HighErrorRate", "service": "airtable-gateway"},
            90,
            # The gateway passes airtable-gateway's 502s on; retries of failing reads take longer.
            tolerate=({"alertname": "HighErrorRate"}, {"alertname": "HighLatency"}, *BUDGETS),
            # One at a time: airtable-gateway retries failing reads within its 5 requests/s per base,
            # so concurrent reads pile up behind its rate limiter and stay slow long after healing.
            traffic=1,
            doc="Airtable (the stand-in) answers every request with 500",
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
        ),
        Scenario(
            "memory",
            HoldMemory(service),
            {"alertname": "HighMemoryUsage", "service": service, "scope": "service"},
            90,
            doc=f"{service} holds 95% of its catalog memory limit",
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
