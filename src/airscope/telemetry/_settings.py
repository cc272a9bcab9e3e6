"""Every environment variable the kit reads, as a pydantic-settings model (``KitEnvironment``), and
how any airscope settings model is read (``EnvSettings``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import BeforeValidator, Field, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from airscope.errors import AirscopeError

LOG_LEVEL = "LOG_LEVEL"
ENVIRONMENT = "AIRSCOPE_ENVIRONMENT"
COMMIT = "AIRSCOPE_COMMIT"
TRACE_DIR = "AIRSCOPE_TRACE_DIR"
INSTANCE_ID = "AIRSCOPE_INSTANCE_ID"
TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_SAMPLER = "OTEL_TRACES_SAMPLER"
TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
SDK_DISABLED = "OTEL_SDK_DISABLED"
DRILLS = "AIRSCOPE_DRILLS"
PROFILE_SWITCH = "AIRSCOPE_PROFILE_SWITCH"
PYROSCOPE_URL = "AIRSCOPE_PYROSCOPE_URL"
PYROSCOPE_SAMPLE_RATE = "AIRSCOPE_PYROSCOPE_SAMPLE_RATE"
# pyroscope-io's own default: a sample every 10 ms of each thread, enough for shares of a percent in
# a minute of a busy service.
DEFAULT_PYROSCOPE_SAMPLE_RATE = 100
MAX_CONCURRENT_REQUESTS = "AIRSCOPE_MAX_CONCURRENT_REQUESTS"
# Well above what a service holds at its normal load (a few dozen requests in flight at the chat
# path's 50/s) and low enough that past it the answers of what is admitted stay within seconds.
DEFAULT_MAX_CONCURRENT_REQUESTS = 100
PRODUCTION = "production"

Level = Literal["debug", "info", "warning", "error", "critical"]
LEVELS = get_args(Level)


class ConfigError(AirscopeError, ValueError):
    """An environment variable has a value airscope cannot use; the message names the variable."""


class EnvSettings(BaseSettings):
    """A settings model read from the environment: one field per variable (its ``validation_alias``),
    with a type, a default and a description docs/reference.md shows.

    An empty variable counts as unset (local mode and the tests clear a variable by setting it empty).
    """

    model_config = SettingsConfigDict(
        env_ignore_empty=True,
        extra="forbid",
        case_sensitive=True,
        frozen=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in ``environ`` (default: the process's); a bad value raises ``ConfigError``
        naming the variable, so a service stops at start-up instead of failing its first request."""
        try:
            if environ is None:
                return cls()
            names = {str(field.validation_alias or name) for name, field in cls.model_fields.items()}
            return cls.model_validate({name: environ[name] for name in names if environ.get(name, "") != ""})
        except ValidationError as exc:
            raise ConfigError("; ".join(_problem(error) for error in exc.errors())) from None

    @classmethod
    def templated(cls, **parts: str) -> type[Self]:
        """The model for one instance of variables named by pattern: ``<SERVICE>`` in
        ``GATEWAY_TIMEOUT_<SERVICE>_SECONDS`` replaced by ``parts["SERVICE"]``."""
        fields: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            alias = str(info.validation_alias or name)
            for part, value in parts.items():
                alias = alias.replace(f"<{part}>", value)
            fields[name] = (info.annotation, FieldInfo.merge_field_infos(info, validation_alias=alias))
        return create_model(cls.__name__, __base__=cls, **fields)  # type: ignore[call-overload,no-any-return]


def _problem(error: ErrorDetails) -> str:
    """One sentence naming the variable, its value and what it must be."""
    name = ".".join(str(part) for part in error["loc"])
    raw, ctx = error.get("input"), error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, ConfigError):  # a validator's own words, which name the variable already
        return str(cause)
    messages = {
        "missing": f"{name} is not set",
        "int_parsing": f"{name}={raw!r} is not an integer",
        "float_parsing": f"{name}={raw!r} is not a number",
        "greater_than_equal": f"{name}={raw} must be at least {ctx.get('ge')}",
        "greater_than": f"{name}={raw} must be above {ctx.get('gt')}",
        "less_than_equal": f"{name}={raw} must be at most {ctx.get('le')}",
        "literal_error": f"{name}={raw!r} is not one of {ctx.get('expected')}",
    }
    return messages.get(error["type"], f"{name}={raw!r}: {cause or error['msg']}")


def _level(value: Any) -> Any:
    return value.strip().lower() or "info" if isinstance(value, str) else value


def _equals(expected: str) -> BeforeValidator:
    """A flag that is on only for ``expected`` (any other value is off, as the SDK reads its own)."""
    return BeforeValidator(lambda value: str(value).strip().lower() == expected)


class KitEnvironment(EnvSettings):
    """Every service reads these through `airscope.telemetry` (`KitEnvironment`). The OpenTelemetry SDK
    reads its own standard variables itself (`OTEL_EXPORTER_OTLP_ENDPOINT`,
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SDK_DISABLED`); the kit
    decides which exporters exist, and builds the sampler `OTEL_TRACES_SAMPLER` and
    `OTEL_TRACES_SAMPLER_ARG` name as the SDK would, so that each kept span carries the ratio it was
    kept at (`airscope.sample_ratio`, which Tempo multiplies its service graph and span metrics by).
    """

    log_level: Annotated[Level, BeforeValidator(_level)] = Field("info", validation_alias=LOG_LEVEL)
    """The lowest level of log line written."""
    environment: str = Field("local", validation_alias=ENVIRONMENT)
    """`deployment.environment` of spans; `production` (compose sets it) refuses the drill switches and the
    stand-ins."""
    commit: str = Field("unknown", validation_alias=COMMIT)
    """`service_build_info{commit}`."""
    trace_dir: str | None = Field(None, validation_alias=TRACE_DIR)
    """When set, spans are also written there as OTLP JSON lines."""
    instance_id: str | None = Field(None, validation_alias=INSTANCE_ID)
    """`service.instance.id`, and the name of the trace file (`<instance id>.jsonl`, else `<service>.jsonl`),
    so that scaled instances of one service do not write one file; unset: host name + random. Local mode
    sets the program's name, e.g. `mcp-server-2`."""
    traces_exporter: str | None = Field(None, validation_alias=TRACES_EXPORTER)
    """`otlp` exports spans over OTLP (the default when an endpoint is set), `none` does not."""
    otlp_endpoint: str | None = Field(None, validation_alias=OTLP_ENDPOINT)
    """Where OTLP spans go; set: spans are exported."""
    otlp_traces_endpoint: str | None = Field(None, validation_alias=OTLP_TRACES_ENDPOINT)
    """Where OTLP spans go, for traces only; set: spans are exported."""
    # Read here to be documented and validated in one place; _tracing.configured_sampler builds the
    # sampler from the same two variables, the way the SDK does.
    traces_sampler: str | None = Field(None, validation_alias=TRACES_SAMPLER)
    """The SDK's sampler name; unset: `parentbased_always_on` (every trace kept). Compose sets
    `parentbased_traceidratio`."""
    traces_sampler_arg: str | None = Field(None, validation_alias=TRACES_SAMPLER_ARG)
    """The ratio of new traces kept by a `*traceidratio` sampler, from 0 to 1 (compose: `0.1`)."""
    sdk_disabled: Annotated[bool, _equals("true")] = Field(False, validation_alias=SDK_DISABLED)
    """`true`: no tracer provider at all."""
    drills: Annotated[bool, _equals("1")] = Field(False, validation_alias=DRILLS)
    """`1` mounts the drill switches (faults a service puts on itself for `airscope drill`); refused in
    production. Local mode sets it; the compose file never does."""
    profile_switch: Annotated[bool, _equals("1")] = Field(False, validation_alias=PROFILE_SWITCH)
    """`1` mounts the profiling switch (`/_profile/memory`: tracemalloc for a bounded time, for
    `airscope profile --memory`); refused in production. Local mode sets it; the compose file never
    does (production has Pyroscope)."""
    pyroscope_url: str | None = Field(None, validation_alias=PYROSCOPE_URL)
    """Where the service pushes continuous CPU profiles (Pyroscope's URL, e.g. `http://pyroscope:4040`);
    unset: no profiling agent. Compose sets it."""
    pyroscope_sample_rate: int = Field(
        DEFAULT_PYROSCOPE_SAMPLE_RATE, ge=1, le=1000, validation_alias=PYROSCOPE_SAMPLE_RATE
    )
    """Stack samples per second the profiling agent takes of each thread, when `AIRSCOPE_PYROSCOPE_URL`
    is set."""
    max_concurrent_requests: int = Field(
        DEFAULT_MAX_CONCURRENT_REQUESTS, ge=0, validation_alias=MAX_CONCURRENT_REQUESTS
    )
    """Requests a service serves at once; the next is refused at once with 503 and `Retry-After`
    (counted in `http_server_requests_shed_total`) instead of slowing every answer. Health probes and
    `/metrics` are never refused. `0`: no limit."""

    @model_validator(mode="after")
    def _no_drills_in_production(self) -> Self:
        if self.drills and self.environment == PRODUCTION:
            raise ConfigError(
                f"{DRILLS}=1 is refused when {ENVIRONMENT}={PRODUCTION}: drill switches inject faults; "
                f"unset {DRILLS}"
            )
        if self.profile_switch and self.environment == PRODUCTION:
            raise ConfigError(
                f"{PROFILE_SWITCH}=1 is refused when {ENVIRONMENT}={PRODUCTION}: anyone who reaches the "
                f"service could make it trace every allocation; unset {PROFILE_SWITCH} (production "
                f"profiles go to Pyroscope: {PYROSCOPE_URL})"
            )
        return self

    @property
    def otlp_enabled(self) -> bool:
        exporters = {e.strip() for e in (self.traces_exporter or "").split(",") if e.strip()}
        has_endpoint = bool(self.otlp_endpoint or self.otlp_traces_endpoint)
        return "otlp" in exporters or (has_endpoint and "none" not in exporters)


@dataclass(frozen=True)
class Settings:
    """What the kit does with its environment (tests build one directly)."""

    log_level: str = "info"
    environment: str = "local"
    commit: str = "unknown"
    trace_dir: str | None = None
    instance_id: str | None = None
    otlp_enabled: bool = False
    tracing_disabled: bool = False
    drills: bool = False
    profile_switch: bool = False
    pyroscope_url: str | None = None
    pyroscope_sample_rate: int = DEFAULT_PYROSCOPE_SAMPLE_RATE
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        read = KitEnvironment.from_env(env)
        same = read.model_dump(
            include={
                "log_level",
                "environment",
                "commit",
                "trace_dir",
                "instance_id",
                "drills",
                "profile_switch",
                "pyroscope_url",
                "pyroscope_sample_rate",
                "max_concurrent_requests",
            }
        )
        return cls(**same, otlp_enabled=read.otlp_enabled, tracing_disabled=read.sdk_disabled)
