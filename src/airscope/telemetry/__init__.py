"""The telemetry kit: one call gives a service RED metrics, health, JSON logs and traces.

    from airscope.telemetry import instrument, postgres_check
    instrument(app, service="platform-services", version="1.2.0", checks=[postgres_check(dsn)])

Everything a service needs is importable from here; the modules starting with ``_`` may move.
How telemetry leaves the process is configured from the environment (``KitEnvironment``); every
airscope settings model is an ``EnvSettings``.
"""

from airscope.telemetry._context import current_request_id
from airscope.telemetry._health import Check, CheckResult, HealthMonitor
from airscope.telemetry._instrument import Instrumentation, instrument
from airscope.telemetry._logging import configure_logging, get_logger, reset_logging
from airscope.telemetry._metrics import DROPPED, LATENCY_BUCKETS, HttpServerMetrics
from airscope.telemetry._redact import redact, redact_text
from airscope.telemetry._settings import (
    ENVIRONMENT,
    PRODUCTION,
    ConfigError,
    EnvSettings,
    KitEnvironment,
    Settings,
)
from airscope.telemetry._tracing import (
    SAMPLE_RATIO,
    CountingBatchSpanProcessor,
    SafeExporter,
    build_resource,
    configure_tracing,
    untraced,
)
from airscope.telemetry.checks import http_check, postgres_check, redis_check

__all__ = [
    "DROPPED",
    "ENVIRONMENT",
    "LATENCY_BUCKETS",
    "PRODUCTION",
    "SAMPLE_RATIO",
    "Check",
    "CheckResult",
    "ConfigError",
    "CountingBatchSpanProcessor",
    "EnvSettings",
    "HealthMonitor",
    "HttpServerMetrics",
    "Instrumentation",
    "KitEnvironment",
    "SafeExporter",
    "Settings",
    "build_resource",
    "configure_logging",
    "configure_tracing",
    "current_request_id",
    "get_logger",
    "http_check",
    "instrument",
    "postgres_check",
    "redact",
    "redact_text",
    "redis_check",
    "reset_logging",
    "untraced",
]
