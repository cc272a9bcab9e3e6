"""Every setting of the api-gateway, read from the environment in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field

from airscope import catalog
from airscope.services.common.config import URL, ConfigError, EnvSettings

SERVICE = "api-gateway"
FRONTEND = "frontend"
CORS_ORIGINS_ENV = "AIRSCOPE_CORS_ORIGINS"
# scheme://host[:port], as a browser sends it in Origin: no path, no wildcard.
ORIGIN = re.compile(r"https?://[^/?#*\s]+")

# An LLM answer with a few tool rounds takes tens of seconds; everything else answers in well under 10.
DEFAULT_TIMEOUTS = {"llm-orchestrator": 60.0}
DEFAULT_TIMEOUT = 10.0
# What is admitted waits about (requests in flight) / (throughput) (Little's law): at the chat
# path's capacity (some 40-50 chats/s on two cores) 32 in flight keep an admitted chat under a
# second, while the normal load holds about ten. A third of what the gateway itself admits
# (AIRSCOPE_MAX_CONCURRENT_REQUESTS, 100): a slow upstream cannot take every slot of the others.
DEFAULT_MAX_CONCURRENT = 32


class Settings(EnvSettings):
    """The gateway's own settings."""

    api_key: str | None = Field(None, repr=False, validation_alias="AIRSCOPE_API_KEY")
    """A key accepted in X-API-Key (local mode sets its own)."""
    api_keys: str | None = Field(None, validation_alias="AIRSCOPE_API_KEYS")
    """More accepted keys, comma-separated."""
    jwt_secret: str | None = Field(None, repr=False, validation_alias="AIRSCOPE_JWT_SECRET")
    """Verifies sign-in tokens (platform-services signs them with it); unset: only API keys are accepted.
    With neither, the gateway refuses to start."""
    jwt_issuer: str = Field("platform-services", validation_alias="GATEWAY_JWT_ISSUER")
    """The `iss` a sign-in token must have."""
    jwt_audience: str = Field("airscope", validation_alias="GATEWAY_JWT_AUDIENCE")
    """The `aud` a sign-in token must have."""
    rate_limit_rps: float = Field(100.0, ge=0.001, validation_alias="GATEWAY_RATE_LIMIT_RPS")
    """Requests per second each caller may make, on average."""
    rate_limit_burst: int = Field(200, ge=1, validation_alias="GATEWAY_RATE_LIMIT_BURST")
    """Requests each caller may make at once."""
    redis_url: str = Field(validation_alias="REDIS_URL")
    """The Redis that holds the rate limits."""
    health_timeout: float = Field(2.0, ge=0.01, validation_alias="GATEWAY_HEALTH_TIMEOUT_SECONDS")
    """How long each refresh of /api/health waits for each service's /health."""
    health_interval: float = Field(2.0, ge=0.1, validation_alias="GATEWAY_HEALTH_INTERVAL_SECONDS")
    """How often one background task asks every service's /health; /api/health answers from the last
    answers (an entry older than 3 refreshes is reported stale)."""
    cors_origins: str | None = Field(None, validation_alias=CORS_ORIGINS_ENV)
    """The origins whose pages may call the gateway from a browser (CORS), comma-separated
    scheme://host[:port]; unset: the origin of AIRSCOPE_URL_FRONTEND, which local mode sets (compose sets
    the public one)."""


class UpstreamSettings(EnvSettings):
    """Each other catalog service, `<SERVICE>` its name in upper case with `_` for `-`."""

    url: URL | None = Field(None, validation_alias="AIRSCOPE_URL_<SERVICE>")
    """Base URL of the service (local mode and compose set it); unset: `http://127.0.0.1:<catalog port>`."""
    timeout: float | None = Field(
        None,
        ge=0.001,
        validation_alias="GATEWAY_TIMEOUT_<SERVICE>_SECONDS",
        description=f"How long a forwarded request may take; unset: {DEFAULT_TIMEOUT:g} s, "
        + ", ".join(f"{seconds:g} s for {name}" for name, seconds in DEFAULT_TIMEOUTS.items())
        + " (an LLM answer with a few tool rounds takes tens of seconds; everything else answers in well "
        "under 10).",
    )
    max_concurrent: int | None = Field(
        None,
        ge=1,
        validation_alias="GATEWAY_MAX_CONCURRENT_<SERVICE>",
        description=f"Requests forwarded to the service at once; the next is answered 503 with Retry-After "
        f"(`upstream_overloaded`), so one slow upstream cannot hold every connection of the gateway; unset: "
        f"{DEFAULT_MAX_CONCURRENT}.",
    )


@dataclass(frozen=True)
class Upstream:
    """A service the gateway forwards to: where it is, how long to wait, and whether this build has it."""

    name: str
    url: str
    timeout: float
    deployed: bool
    max_concurrent: int = DEFAULT_MAX_CONCURRENT


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
    health_interval: float
    cors_origins: tuple[str, ...]

    @classmethod
    def from_env(cls) -> Config:
        settings = Settings.from_env()
        keys = [settings.api_key or "", *(settings.api_keys or "").split(",")]
        services = catalog.load().services
        targets = {name: _upstream(service) for name, service in services.items() if name != SERVICE}
        frontend = targets[FRONTEND].url if FRONTEND in targets else ""
        same = settings.model_dump(exclude={"api_key", "api_keys", "cors_origins"})
        return cls(
            **same,
            api_keys=tuple(dict.fromkeys(key.strip() for key in keys if key.strip())),
            upstreams={name: targets[name] for name in services[SERVICE].calls},
            health_targets=targets,
            cors_origins=parse_origins(settings.cors_origins or frontend),
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
    read = UpstreamSettings.templated(SERVICE=service.env_name).from_env()
    return Upstream(
        name=service.name,
        url=read.url or f"http://127.0.0.1:{service.port}",
        timeout=read.timeout or DEFAULT_TIMEOUTS.get(service.name, DEFAULT_TIMEOUT),
        # The build does not change while the process runs: decide once, not per request.
        deployed=service.exists(),
        max_concurrent=read.max_concurrent or DEFAULT_MAX_CONCURRENT,
    )
