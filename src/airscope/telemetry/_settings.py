"""Every environment variable the kit reads, named once, read in one place.

The OpenTelemetry SDK reads its own standard variables itself (OTEL_TRACES_SAMPLER,
OTEL_TRACES_SAMPLER_ARG, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED); the kit only decides which exporters exist.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOG_LEVEL = "LOG_LEVEL"  # debug|info|warning|error; default info
ENVIRONMENT = "AIRSCOPE_ENVIRONMENT"  # deployment.environment of spans; default "local"
COMMIT = "AIRSCOPE_COMMIT"  # service_build_info{commit}; default "unknown"
TRACE_DIR = "AIRSCOPE_TRACE_DIR"  # when set, spans are also written there as OTLP JSON lines
# service.instance.id, and the name of the trace file (<instance id>.jsonl, else <service>.jsonl), so
# that scaled instances of one service do not write one file; default: host name + random.
INSTANCE_ID = "AIRSCOPE_INSTANCE_ID"
TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"  # "otlp" (default when an endpoint is set), "none"
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
SDK_DISABLED = "OTEL_SDK_DISABLED"
# "1" mounts the drill switches (faults a service puts on itself for `airscope drill`); refused in
# production. Local mode sets it; the compose file never does.
DRILLS = "AIRSCOPE_DRILLS"
PRODUCTION = "production"

LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class Settings:
    log_level: str = "info"
    environment: str = "local"
    commit: str = "unknown"
    trace_dir: str | None = None
    instance_id: str | None = None
    otlp_enabled: bool = False
    tracing_disabled: bool = False
    drills: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        level = env.get(LOG_LEVEL, "info").strip().lower() or "info"
        if level not in LEVELS:
            raise ValueError(f"{LOG_LEVEL}={env[LOG_LEVEL]!r} is not one of {', '.join(LEVELS)}")
        exporters = {e.strip() for e in env.get(TRACES_EXPORTER, "").split(",") if e.strip()}
        has_endpoint = bool(env.get(OTLP_ENDPOINT) or env.get(OTLP_TRACES_ENDPOINT))
        environment = env.get(ENVIRONMENT, "local")
        drills = env.get(DRILLS, "").strip() == "1"
        if drills and environment == PRODUCTION:
            raise ValueError(
                f"{DRILLS}=1 is refused when {ENVIRONMENT}={PRODUCTION}: drill switches inject faults; "
                f"unset {DRILLS}"
            )
        return cls(
            log_level=level,
            environment=environment,
            commit=env.get(COMMIT, "unknown"),
            trace_dir=env.get(TRACE_DIR) or None,
            instance_id=env.get(INSTANCE_ID) or None,
            otlp_enabled="otlp" in exporters or (has_endpoint and "none" not in exporters),
            tracing_disabled=env.get(SDK_DISABLED, "").strip().lower() == "true",
            drills=drills,
        )
