"""One uvicorn process per variant: started pinned to a CPU, checked, stopped, and read back."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

from airscope.bench import BenchError
from airscope.bench._overhead_apps import (
    PATH,
    SINK_COUNT_PATH,
    SINK_PUSHES_PATH,
    SPANS_MARKER,
    Variant,
    otlp_sink,
    pyroscope_sink,
)
from airscope.local.traces import parse_line, span_files

# Ports other parts of the project (or common tools) claim on this machine.
_RESERVED_PORTS = {5173, 5432, 6379, 9090, 9093, *range(7000, 7101)}
# A leftover variable of these would change what a variant does: the run sets what it needs.
_SCRUBBED_PREFIXES = ("OTEL_", "AIRSCOPE_", "FASTAPI_OTEL_", "PROMETHEUS_MULTIPROC")
# The kit renders compactly (orjson), structlog's JSONRenderer with a space.
_ACCESS_LINE = re.compile(rb'"event": ?"request"')
_SPANS_TALLY = re.compile(re.escape(SPANS_MARKER.encode()) + rb"(\d+)")


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _RESERVED_PORTS and port not in ports:
            ports.append(port)
    return ports


class Server:
    # What answers once the app is up.
    ready_path = PATH

    def __init__(
        self,
        variant: Variant,
        port: int,
        workdir: Path,
        *,
        cpu: int,
        sink: Sink | None = None,
        profile_sink: PyroscopeSink | None = None,
    ) -> None:
        self.variant = variant
        self.port = port
        self.cpu = cpu
        # Where an "otlp" variant exports its spans to, and which counts them.
        self.sink = sink
        # Where a profiling variant's agent pushes, and which counts the pushes.
        self.profile_sink = profile_sink
        self.log = workdir / f"{variant.key}.log"
        self.trace_dir = workdir / "traces" / variant.key
        self.base_url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            *("taskset", "-c", str(self.cpu)),
            *(sys.executable, "-m", "uvicorn", "--factory", self.variant.import_path),
            *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
            # uvicorn's own access log off: the line being measured is the kit's (or structlog's).
            "--no-access-log",
            *("--loop", "uvloop", "--http", "httptools"),
        ]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env["LOG_LEVEL"] = "info"
        if self.variant.global_provider:
            env["OTEL_TRACES_SAMPLER"] = "parentbased_always_on"
        if self.variant.traces == "file":
            env["AIRSCOPE_TRACE_DIR"] = str(self.trace_dir)
        if self.variant.traces == "otlp":
            if self.sink is None:
                raise BenchError(f"{self.variant.key}: exports over OTLP/HTTP, and the run has no sink")
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.sink.base_url
        if self.variant.profiles:
            if self.profile_sink is None:
                raise BenchError(f"{self.variant.key}: pushes profiles, and the run has no Pyroscope sink")
            env["AIRSCOPE_PYROSCOPE_URL"] = self.profile_sink.base_url
        env.update(self.variant.environment)
        return env

    def start(self) -> None:
        # A file, as in production ("logs go to stdout redirected to a file"): a pipe nobody
        # drains would block the server, /dev/null would make writing the lines free.
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment()
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise BenchError(
                    f"{self.variant.key}: the server on port {self.port} exited.\n{self.log_tail()}"
                )
            try:
                httpx.get(self.base_url + self.ready_path, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise BenchError(
            f"{self.variant.key}: nothing answered on port {self.port} within {timeout:.0f} s.\n{self.log_tail()}"
        )

    def check(self) -> None:
        """The endpoint answers 200 with its JSON, and /metrics (where there is one) lists the metric."""
        response = httpx.get(self.base_url + PATH, timeout=5.0)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or body != {"hello": "world"}:
            raise BenchError(
                f"{self.variant.key}: GET {PATH} answered {response.status_code}: {response.text[:200]}"
            )
        if self.variant.metric is not None:
            metrics = httpx.get(self.base_url + "/metrics", timeout=5.0)
            if metrics.status_code != 200 or self.variant.metric not in metrics.text:
                raise BenchError(
                    f"{self.variant.key}: GET /metrics answered {metrics.status_code} "
                    f"without {self.variant.metric}: {metrics.text[:200]}"
                )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, so that uvicorn shuts down cleanly and the tracer provider flushes its spans."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far, all its threads (the span export thread too)."""
        if self._process is None:
            raise BenchError(f"{self.variant.key}: not running")
        times = psutil.Process(self._process.pid).cpu_times()
        return times.user + times.system

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log})"
        return f"last lines of {self.log}:\n" + "\n".join(text.splitlines()[-lines:])

    def access_lines(self) -> int:
        """Access lines in the server's log (read after stop)."""
        return sum(1 for _ in _matches(self.log, _ACCESS_LINE))

    def spans_exported(self) -> int | None:
        """Spans that reached the exporter (read after stop, once the provider has flushed): for the
        "otlp" variant, the spans its sink received."""
        if self.variant.traces == "file":
            return sum(_spans_in(path) for path in span_files(self.trace_dir))
        if self.variant.traces == "otlp" and self.sink is not None:
            return self.sink.spans_received()
        if self.variant.traces == "dropped":
            tallies = [int(match.group(1)) for match in _matches(self.log, _SPANS_TALLY)]
            return sum(tallies) if tallies else None
        return None


class Sink(Server):
    """The OTLP/HTTP sink (``otlp_sink``), on the load generator's CPU: a collector would not share
    the service's core either."""

    ready_path = SINK_COUNT_PATH

    def __init__(self, port: int, workdir: Path, *, cpu: int) -> None:
        super().__init__(SINK, port, workdir, cpu=cpu)

    def spans_received(self) -> int:
        response = httpx.get(self.base_url + SINK_COUNT_PATH, timeout=5.0)
        response.raise_for_status()
        return response.json()["spans"]


SINK = Variant("otlp-sink", "OTLP/HTTP sink", otlp_sink)


class PyroscopeSink(Server):
    """The Pyroscope stand-in (``pyroscope_sink``) the profiling row's agent pushes to; on the load
    generator's CPU, as Pyroscope would not share the service's core."""

    ready_path = SINK_PUSHES_PATH

    def __init__(self, port: int, workdir: Path, *, cpu: int) -> None:
        super().__init__(PYROSCOPE_SINK, port, workdir, cpu=cpu)

    def pushes_received(self) -> int:
        response = httpx.get(self.base_url + SINK_PUSHES_PATH, timeout=5.0)
        response.raise_for_status()
        return response.json()["pushes"]


PYROSCOPE_SINK = Variant("pyroscope-sink", "Pyroscope sink", pyroscope_sink)


def _spans_in(path: Path) -> int:
    # Line by line: a run's span files reach hundreds of megabytes.
    with path.open("rb") as file:
        return sum(len(parse_line(line)) for line in file if line.strip())


def _matches(path: Path, pattern: re.Pattern[bytes]) -> Iterator[re.Match[bytes]]:
    # Line by line: the logs and trace files of a run reach hundreds of megabytes.
    with path.open("rb") as file:
        for line in file:
            yield from pattern.finditer(line)
