"""Every setting of the frontend, read from the environment in one place."""

from __future__ import annotations

from dataclasses import dataclass

from airscope.services.common import env_float, env_int, service_url

SERVICE = "frontend"

# Above the gateway's own 60 s for chat, so that the gateway's 504 (which names the slow service)
# reaches the page instead of a less precise one from here.
DEFAULT_GATEWAY_TIMEOUT = 70.0


@dataclass(frozen=True)
class Config:
    gateway_url: str
    gateway_timeout: float
    # Beacons per second each client address may send, and how many it may send at once.
    rum_rate_per_second: float
    rum_burst: int
    # Client addresses whose buckets are kept; the least recently seen is forgotten beyond that.
    rum_max_clients: int

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            gateway_url=service_url("api-gateway"),
            gateway_timeout=env_float(
                "FRONTEND_GATEWAY_TIMEOUT_SECONDS", DEFAULT_GATEWAY_TIMEOUT, minimum=0.001
            ),
            rum_rate_per_second=env_float("FRONTEND_RUM_RATE_PER_SECOND", 1.0, minimum=0.001),
            rum_burst=env_int("FRONTEND_RUM_BURST", 20, minimum=1),
            rum_max_clients=env_int("FRONTEND_RUM_MAX_CLIENTS", 10_000, minimum=1),
        )
