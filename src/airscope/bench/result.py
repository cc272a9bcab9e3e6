"""What one `airscope bench` run measured, as kept in docs/performance/baselines.json.

The documents (``baselines``, ``capacity``, ``thresholds``) and ``airscope soak`` read a ``Result``;
the measurement (``platform``) writes one. ``Result.read`` and ``Result.as_json`` are the JSON
boundary: the file's format is these dataclasses' fields, in their order.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

JSON_PATH = "docs/performance/baselines.json"

# --- the method: what every run does, and what the documents quote --------------------------------

NORMAL = ("mixed", 5)  # `airscope load`'s default rate: the platform's normal load here
SEED = 8  # one plan for every run: the same actions at every rate
WARMUP = (5.0, 10.0)  # rate, seconds: imports, connections and caches before the first step
MAX_IN_FLIGHT = 400  # far above what any step here holds open; a skipped action marks saturation
# After each step: the last spans leave their batch (the kit's local schedule is 1 s), the upload
# jobs and sagas it started finish, and one scrape (5 s locally) puts its last requests in Prometheus.
SETTLE_SECONDS = 8.0
KNEE_ERROR_RATIO = 0.01
KNEE_P95_FACTOR = 3.0  # p95 over all requests this many times the mix's first step's: the knee


@dataclass
class Latency:
    count: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class Usage:
    """One program's share of a step: CPU in cores over the step, memory (PSS) at its end."""

    cpu_cores: float
    memory_mib: float


@dataclass
class Telemetry:
    """What one service's telemetry weighed during a step."""

    log_bytes: int = 0
    spans: int = 0
    span_bytes: int = 0
    series: int = 0
    server_rps: float = 0.0
    server_p95_ms: float | None = None


@dataclass
class Step:
    mix: str
    rate: float
    seconds: float
    actions: int
    skipped: int
    sent: int
    answered: int
    errors: int
    overall: Latency
    routes: dict[str, Latency]  # "METHOD route" -> what the client saw
    services: dict[str, Latency]  # the service the gateway sent each route to -> what the client saw
    processes: dict[str, Usage]  # program -> CPU and memory
    load_generator_cpu_cores: float
    machine_cpu_cores: float  # every process on the machine, this one included
    telemetry: dict[str, Telemetry]  # service -> logs, spans, series, Prometheus' view
    head_series: int
    samples_per_second: float
    # Airtable allows 5 requests/s per base; airtable-gateway queues its calls to stay under it.
    airtable_calls_per_second: float
    airtable_wait_p95_ms: float | None
    # Since issue 21 (None in older runs, and then left out of the JSON): the peak of the calls' rate
    # over 10 s windows, the 429s Airtable answered airtable-gateway (the stand-in refuses past 5/s
    # per base, so none means the limit held every second), and the 429s the load's users received.
    airtable_calls_peak_per_second: float | None = None
    airtable_429s: int | None = None
    user_429s: int | None = None

    @property
    def error_ratio(self) -> float:
        return self.errors / self.sent if self.sent else 0.0

    def past_knee(self, first: Step) -> str | None:
        """Why this step is past the mix's knee, or None."""
        if self.error_ratio > KNEE_ERROR_RATIO:
            return f"{self.error_ratio:.1%} errors (limit {KNEE_ERROR_RATIO:.0%})"
        if self.skipped:
            return f"{self.skipped} actions skipped: {MAX_IN_FLIGHT} still in flight"
        if first is not self and self.overall.p95_ms > KNEE_P95_FACTOR * first.overall.p95_ms:
            return (
                f"p95 {self.overall.p95_ms:.0f} ms, more than {KNEE_P95_FACTOR:g}x the "
                f"{first.overall.p95_ms:.0f} ms at {first.rate:g}/s"
            )
        return None

    def with_load_generator(self) -> dict[str, Usage]:
        """The platform's programs and the load generator, which shares the machine's cores."""
        return self.processes | {"load generator": Usage(self.load_generator_cpu_cores, 0)}

    def per_request(self) -> dict[str, float]:
        """Log bytes, spans and span bytes over all services per request the load sent."""
        requests = max(1, self.overall.count)
        return {
            key: sum(getattr(t, key) for t in self.telemetry.values()) / requests
            for key in ("log_bytes", "spans", "span_bytes")
        }

    def service_series(self) -> int:
        return sum(t.series for t in self.telemetry.values())

    def as_json(self) -> dict[str, Any]:
        return _without_absent({**asdict(self), "error_ratio": round(self.error_ratio, 4)}, LATER_STEP_FIELDS)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Step:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}  # error_ratio is derived
        return cls(
            **values
            | {
                "overall": Latency(**data["overall"]),
                "routes": {k: Latency(**v) for k, v in data["routes"].items()},
                "services": {k: Latency(**v) for k, v in data["services"].items()},
                "processes": {k: Usage(**v) for k, v in data["processes"].items()},
                "telemetry": {k: Telemetry(**v) for k, v in data["telemetry"].items()},
            }
        )


LATER_STEP_FIELDS = ("airtable_calls_peak_per_second", "airtable_429s", "user_429s")


def _without_absent(data: dict[str, Any], later: tuple[str, ...]) -> dict[str, Any]:
    """A kept run from before a field existed reads and writes back byte for byte."""
    return {key: value for key, value in data.items() if not (key in later and value is None)}


@dataclass
class Overload:
    """The row "at 2x the knee" (``airscope.bench.overload``): the overload's chats, and the normal
    load's before and after it."""

    mix: str
    knee_rate: float  # the highest rate of the mix below its knee
    rate: float  # offered during the overload: twice the knee
    seconds: float
    normal_rate: float
    patience_seconds: float  # the client gives up after this: a failure
    offered: int
    admitted: int  # 2xx
    shed: int  # 429 or 503 with Retry-After
    failed: int  # anything else: errors, no answer, the client gave up
    gave_up: int
    refusal_p95_ms: float | None
    admitted_p95_ms: float | None
    normal_p95_ms: float
    after_failed: int  # failures in the normal load after the overload
    recovery_seconds: float | None  # None: not back to normal before the run ended
    # What each service counted in http_server_requests_shed_total over the row (Prometheus).
    shed_by_service: dict[str, int] = field(default_factory=dict)

    @property
    def shed_share(self) -> float:
        return self.shed / self.offered if self.offered else 0.0


@dataclass
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    os: str
    python: str
    commit: str


@dataclass
class Settings:
    """How the run was asked for, and the method's constants it ran with."""

    rates: dict[str, list[float]]
    step_seconds: float
    normal_seconds: float
    normal: list[Any]  # [mix, rate]: NORMAL as JSON keeps it
    warmup: str
    seed: int
    max_in_flight: int
    weights: dict[str, int]


@dataclass
class Compression:
    """How much gzip shrank the run's log lines and spans: raw bytes / compressed."""

    logs: float
    spans: float


@dataclass
class Result:
    command: str
    started_at: str
    machine: Machine
    settings: Settings
    stopped: dict[str, str]  # mix -> why it stopped
    compression: Compression
    steps: list[Step]
    overload: Overload | None = None  # since issue 21; left out of the JSON when not measured

    def steps_of(self, mix: str) -> list[Step]:
        return [step for step in self.steps if step.mix == mix]

    def normal_step(self) -> Step | None:
        mix, rate = NORMAL
        return next((s for s in self.steps_of(mix) if s.rate == rate), None)

    def below_knee(self, mix: str) -> list[Step]:
        """The mix's steps before the one that passed its knee."""
        steps = self.steps_of(mix)
        return steps[:-1] if "past the knee" in self.stopped.get(mix, "") else steps

    def as_json(self) -> dict[str, Any]:
        return _without_absent(
            {**asdict(self), "steps": [step.as_json() for step in self.steps]}, ("overload",)
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(
            command=data["command"],
            started_at=data["started_at"],
            machine=Machine(**data["machine"]),
            settings=Settings(**data["settings"]),
            stopped=data["stopped"],
            compression=Compression(**data["compression"]),
            steps=[Step.from_json(step) for step in data["steps"]],
            overload=Overload(**data["overload"]) if data.get("overload") else None,
        )

    @classmethod
    def read(cls, path: Path) -> Result:
        return cls.from_json(json.loads(path.read_text()))

    def write(self, root: Path) -> Path:
        path = root / JSON_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=1) + "\n")
        return path
