"""``airscope bench telemetry-outage``: request latency and errors with every telemetry backend up, and
with each down, side by side.

Kit-level: one uvicorn process per condition serves the kit-instrumented app (one endpoint, an access
line and a server span per request), configured from the environment as a service is; wrk loads each
in turn, interleaved over rounds. The backends a process can lose: the OTLP endpoint (refusing
connections, or a black hole that accepts and never answers), stdout (a pipe no one reads: a stalled
log collector) and the disk under the logs and the trace store (a full tmpfs). Prometheus and
Alertmanager are not here: no service sends them anything (Prometheus scrapes, Alertmanager hears
from Prometheus); tests/e2e/test_telemetry_outage.py stops them under a running platform.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from fastapi import FastAPI

from airscope import __version__, tables
from airscope.bench import BenchError, _wrk
from airscope.bench._servers import free_ports
from airscope.telemetry import instrument

SERVER_CPU = 0
WRK_CPU = 1
WARMUP_SECONDS = 2
PATH = "/hello/world"
# A small span queue, so that an outage of a few seconds fills it and the drop counter moves.
SPAN_QUEUE = 256
OTLP_TIMEOUT_SECONDS = 2
_RESULT = re.compile(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", re.MULTILINE)
# wrk reports what the summary line lacks (p95, errors by kind) from this script.
_WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", summary.requests, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def create_app() -> FastAPI:
    """The app each condition serves (uvicorn --factory): the kit configured from the environment."""
    app = FastAPI()

    @app.get("/hello/{name}")
    async def hello(name: str) -> dict:
        return {"hello": name}

    instrument(app, service="outage-bench", version=__version__)
    return app


# --- the outages -------------------------------------------------------------------------------------


@contextmanager
def full_tmpfs(directory: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs mounted at ``directory`` and filled up; unmounted on exit. Needs root: raises PermissionError."""
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise PermissionError(f"mount -t tmpfs {directory}: {(done.stderr or done.stdout).strip()}")
    try:
        fill(directory)
        yield directory
    finally:
        # Lazy: a process may still hold a file there open.
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path) -> None:
    """Writes ``directory``'s filesystem full."""
    with (directory / "fill").open("ab") as file:
        chunk = b"\0" * 65536
        try:
            while True:
                file.write(chunk)
                file.flush()
        except OSError:
            pass


@contextmanager
def black_hole() -> Iterator[str]:
    """An OTLP endpoint that accepts connections and never answers; its URL."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)  # the kernel completes the handshakes; nothing ever reads
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@contextmanager
def refusing() -> Iterator[str]:
    """An OTLP endpoint on a port no one listens on; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:
        pass


@contextmanager
def live_receiver() -> Iterator[str]:
    """An OTLP/HTTP endpoint that takes every batch; its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accept)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def stuck_pipe() -> Iterator[int]:
    """The write end of a pipe no one reads (a stalled log collector); closed on exit."""
    read_end, write_end = os.pipe()
    try:
        yield write_end
    finally:
        os.close(write_end)
        os.close(read_end)


# --- the conditions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """One wrk run against one condition's server."""

    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int


@dataclass
class Condition:
    key: str
    label: str
    otlp: str  # up | refused | black-hole
    stdout: str  # file | stuck | full-disk
    trace_dir: str  # disk | full-disk
    results: list[Round] = field(default_factory=list)
    dropped: dict[str, float] = field(default_factory=dict)

    @property
    def needs_mount(self) -> bool:
        return "full-disk" in (self.stdout, self.trace_dir)


CONDITIONS = (
    Condition("up", "all up", "up", "file", "disk"),
    Condition("otlp-refused", "OTLP refusing connections", "refused", "file", "disk"),
    Condition("otlp-black-hole", "OTLP black hole", "black-hole", "file", "disk"),
    Condition("stdout-stuck", "stdout a pipe no one reads", "up", "stuck", "disk"),
    Condition("disk-full", "log and trace disk full", "up", "full-disk", "full-disk"),
    Condition("all-down", "all down at once", "black-hole", "stuck", "full-disk"),
)


class _Process:
    """One condition's server, its outages held open for as long as it runs."""

    def __init__(self, condition: Condition, port: int, workdir: Path) -> None:
        self.condition, self.port = condition, port
        self.url = f"http://127.0.0.1:{port}"
        self._stack = ExitStack()
        self._process: subprocess.Popen | None = None
        self.log = workdir / f"{condition.key}.log"
        home = workdir / condition.key
        full = home / "full"
        if condition.needs_mount:
            self._stack.enter_context(full_tmpfs(full))
        endpoints = {"up": live_receiver, "refused": refusing, "black-hole": black_hole}
        endpoint = self._stack.enter_context(endpoints[condition.otlp]())
        trace_dir = full / "traces" if condition.trace_dir == "full-disk" else home / "traces"
        if condition.stdout == "stuck":
            self._stdout = self._stack.enter_context(stuck_pipe())
        else:
            log = full / "stdout.log" if condition.stdout == "full-disk" else self.log
            self._stdout = self._stack.enter_context(log.open("ab")).fileno()
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIRSCOPE_"))},
            "AIRSCOPE_TRACE_DIR": str(trace_dir),
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_TIMEOUT": str(OTLP_TIMEOUT_SECONDS),
            "OTEL_BSP_MAX_QUEUE_SIZE": str(SPAN_QUEUE),
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": str(SPAN_QUEUE // 2),
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        }

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                *("taskset", "-c", str(SERVER_CPU), sys.executable, "-m", "uvicorn", "--factory"),
                f"{__name__}:create_app",
                *("--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"),
                *("--loop", "uvloop", "--http", "httptools"),
            ],
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
            env=self._env,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise BenchError(f"{self.condition.key}: the server exited")
            try:
                if httpx.get(self.url + PATH, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.condition.key}: nothing answered on port {self.port} within {timeout:.0f} s")

    def dropped(self) -> dict[str, float]:
        text = httpx.get(self.url + "/metrics", timeout=5.0).text
        found = re.findall(r'^telemetry_dropped_total\{signal="(\w+)"\} ([\d.e+]+)$', text, re.MULTILINE)
        return {signal: float(value) for signal, value in found}

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._stack.close()


def _load(url: str, *, duration: int, connections: int, script: Path) -> Round:
    command = [*_wrk.command(url, duration=duration, connections=connections, cpu=WRK_CPU), "-s", str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    match = _RESULT.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise BenchError(
            f"{' '.join(command)} exited with {done.returncode}: {(done.stderr + done.stdout).strip()}"
        )
    requests, p50, p95, p99, worst, socket_errors, status_errors = map(int, match.groups())
    return Round(
        rps=requests / duration,
        p50_ms=p50 / 1000,
        p95_ms=p95 / 1000,
        p99_ms=p99 / 1000,
        max_ms=worst / 1000,
        errors=socket_errors + status_errors,
    )


def measure(*, rounds: int, duration: int, connections: int) -> list[Condition]:
    """Every condition's server under wrk, interleaved over ``rounds``; the conditions with their rounds
    (a condition that needs a mount, run without root, is left out)."""
    conditions = [Condition(c.key, c.label, c.otlp, c.stdout, c.trace_dir) for c in CONDITIONS]
    workdir = Path(tempfile.mkdtemp(prefix="airscope-outage-"))
    script = workdir / "report.lua"
    script.write_text(_WRK_SCRIPT)
    processes: list[_Process] = []
    try:
        for condition, port in zip(list(conditions), free_ports(len(conditions)), strict=True):
            try:
                processes.append(_Process(condition, port, workdir))
            except PermissionError as error:
                _progress(f"skipped {condition.key}: {error} (mounting a full tmpfs needs root)")
                conditions.remove(condition)
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
            _load(process.url + PATH, duration=WARMUP_SECONDS, connections=connections, script=script)
        for round_index in range(rounds):
            shift = round_index % len(processes)
            for process in processes[shift:] + processes[:shift]:
                time.sleep(1.0)
                result = _load(process.url + PATH, duration=duration, connections=connections, script=script)
                process.condition.results.append(result)
                _progress(
                    f"round {round_index + 1}/{rounds}  {process.condition.key:<16} {result.rps:>7,.0f} req/s"
                    f"  p99 {result.p99_ms:6.2f} ms  errors {result.errors}"
                )
        for process in processes:
            process.condition.dropped = process.dropped()
    finally:
        for process in processes:
            process.stop()
    return conditions


def table(conditions: list[Condition]) -> str:
    """Medians over the rounds per condition; max and errors over all rounds; drops at the end."""
    rows = []
    for c in conditions:

        def median(key: str, c: Condition = c) -> float:
            return statistics.median(getattr(result, key) for result in c.results)

        rows.append(
            (
                c.label,
                f"{median('rps'):,.0f}",
                f"{median('p50_ms'):.2f}",
                f"{median('p95_ms'):.2f}",
                f"{median('p99_ms'):.2f}",
                f"{max(r.max_ms for r in c.results):.1f}",
                sum(r.errors for r in c.results),
                f"{c.dropped.get('logs', 0):,.0f}",
                f"{c.dropped.get('traces', 0):,.0f}",
            )
        )
    header = (
        "condition",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "dropped logs",
        "dropped spans",
    )
    return tables.markdown(header, rows, align="lrrrrrrrr")


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
