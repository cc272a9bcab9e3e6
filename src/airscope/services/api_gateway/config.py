"""Every setting of the api-gateway, read from the environment in one place."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from airscope import catalog
from airscope.services.common import ConfigError, env_float, env_int, env_str, service_url

SERVICE = "api-gateway"
FRONTEND = "frontend"
CORS_ORIGINS_ENV = "AIRSCOPE_CORS_ORIGINS"
# scheme://host[:port], as a browser sends it in Origin: no path, no wildcard.
ORIGIN = re.compile(r"https?://[^/?#*\s]+")

# An LLM answer with a few tool rounds takes tens of seconds; everything else answers in well under 10.
DEFAULT_TIMEOUTS = {"llm-orchestrator": 60.0}
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Upstream:
    """A service the gateway forwards to: where it is, how long to wait, and whether this build has it."""

    name: str
    url: str
    timeout: float
    deployed: bool


@dataclass(frozen=True)
class Config:
    api_keys: tuple[str, ...]
    jwt_secret: str | None
    jwt_issuer: str
    jwt_audience: str
    rate_limit_rps: float
    rate_limit_burst: int
    redis_url: str
    upstreams: Mapping[str, Upstream]
    # Every catalog service but the gateway itself, with the URL /api/health asks.
    health_targets: Mapping[str, Upstream]
    health_timeout: float
    # The origins whose pages may call the gateway from a browser (CORS): the frontend's. By default
    # the origin of AIRSCOPE_URL_FRONTEND, which local mode sets; compose sets the public one.
    cors_origins: tuple[str, ...]

    @classmethod
    def from_env(cls) -> Config:
        keys = [os.environ.get("AIRSCOPE_API_KEY", ""), *os.environ.get("AIRSCOPE_API_KEYS", "").split(",")]
        services = catalog.load().services
        targets = {name: _upstream(service) for name, service in services.items() if name != SERVICE}
        return cls(
            api_keys=tuple(dict.fromkeys(key.strip() for key in keys if key.strip())),
            jwt_secret=os.environ.get("AIRSCOPE_JWT_SECRET") or None,
            jwt_issuer=env_str("GATEWAY_JWT_ISSUER", "platform-services"),
            jwt_audience=env_str("GATEWAY_JWT_AUDIENCE", "airscope"),
            rate_limit_rps=env_float("GATEWAY_RATE_LIMIT_RPS", 100.0, minimum=0.001),
            rate_limit_burst=env_int("GATEWAY_RATE_LIMIT_BURST", 200, minimum=1),
            redis_url=env_str("REDIS_URL"),
            upstreams={name: targets[name] for name in services[SERVICE].calls},
            health_targets=targets,
            health_timeout=env_float("GATEWAY_HEALTH_TIMEOUT_SECONDS", 2.0, minimum=0.01),
            cors_origins=parse_origins(
                env_str(CORS_ORIGINS_ENV, service_url(FRONTEND) if FRONTEND in services else "")
            ),
        )


def parse_origins(raw: str) -> tuple[str, ...]:
    """A comma-separated list of origins, each as a browser sends it (lower case, no trailing /)."""
    origins = [origin.strip().rstrip("/").lower() for origin in raw.split(",") if origin.strip()]
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"{CORS_ORIGINS_ENV}: {origin!r} is not an origin: scheme://host[:port], no path, no wildcard"
            )
    return tuple(dict.fromkeys(origins))


def _upstream(service: catalog.Service) -> Upstream:
    return Upstream(
        name=service.name,
        url=service_url(service.name),
        timeout=env_float(
            f"GATEWAY_TIMEOUT_{service.env_name}_SECONDS",
            DEFAULT_TIMEOUTS.get(service.name, DEFAULT_TIMEOUT),
            minimum=0.001,
        ),
        # The build does not change while the process runs: decide once, not per request.
        deployed=service.exists(),
    )
