"""``airscope bench logs``: how fast ``airscope logs`` answers over a million lines.

Writes realistic lines of the catalog's services into a temporary log directory (access lines of
requests that cross services under one trace id, the services' own info lines, some warnings, errors
with tracebacks), rotated at supervisord's size, then times filtered queries side by side: in process
(the store and the rendering, median of three) and end to end (a fresh ``airscope logs`` process
writing to /dev/null, median of three).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from airscope import catalog, tables
from airscope.bench import BenchError
from airscope.local import logs
from airscope.local.supervisor import LOG_MAX_BYTES

GOAL_SECONDS = 2.0  # the bound for a filtered query over a million lines
SPAN_SECONDS = 12 * 3600  # the lines cover the last 12 hours
RUNS = 3
# `airscope logs` as a user runs it, in a fresh process (argv[1:] is "logs" and its flags).
_CLI = "from airscope.cli import main; main()"

_EVENTS = {
    "llm-orchestrator": (
        "llm completion",
        {"model": "gpt-4o-mini", "prompt_tokens": 812, "completion_tokens": 96},
    ),
    "mcp-server": ("tool call", {"tool": "list_records", "outcome": "ok"}),
    "airtable-gateway": ("airtable request", {"operation": "list_records", "table": "tblOrders", "pages": 1}),
    "platform-services": ("session verified", {"user_id": 4711}),
    "automation-services": ("workflow step", {"workflow": "sync-orders", "step": "fetch"}),
    "saga-orchestrator": ("saga step done", {"saga": "signup", "step": "create_workspace"}),
}
_TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/airscope/services/_http.py", line 88, in call\n'
    "    response = await client.send(request)\n"
    "httpx.ReadTimeout: timed out after 10.0s"
)


@dataclass(frozen=True)
class Result:
    label: str
    matches: int
    in_process_seconds: float
    cli_seconds: float


def write_lines(log_dir: Path, lines: int, seed: int = 7) -> str:
    """Writes about ``lines`` lines across the services' rotated files; returns a trace id of one of
    the oldest requests (its lines sit in the oldest backups, the worst case for --trace)."""
    services = catalog.load().services
    rng = random.Random(seed)
    now = time.time()
    step = SPAN_SECONDS / lines
    written: dict[str, list[bytes]] = {name: [] for name in services}
    oldest_trace = ""
    count = 0
    while count < lines:
        trace_id = f"{rng.getrandbits(128):032x}"
        oldest_trace = oldest_trace or trace_id
        chain = _call_chain(services, rng)
        failed = rng.random() < 0.005
        for depth, service in enumerate(reversed(chain)):  # the deepest callee finishes first
            moment = now - SPAN_SECONDS + min(count, lines) * step  # the last line is written about now
            stamp = logs.format_timestamp(datetime.fromtimestamp(moment, UTC))
            base = {"timestamp": stamp, "service": service, "trace_id": trace_id}
            base["span_id"] = f"{rng.getrandbits(64):016x}"
            base["request_id"] = f"{rng.getrandbits(64):016x}"
            if service in _EVENTS and rng.random() < 0.5:
                event, extra = _EVENTS[service]
                line = {"event": event, **extra, "level": "info", "logger": f"airscope.{service}", **base}
                written[service].append(orjson.dumps(line))
                count += 1
            if failed and depth == 0:
                line = {"event": "upstream call failed", "exception": _TRACEBACK, "level": "error"}
                written[service].append(orjson.dumps({**line, "logger": "airscope.http", **base}))
                count += 1
            elif rng.random() < 0.03:
                line = {"event": "upstream slow", "elapsed_ms": 1840.2, "level": "warning"}
                written[service].append(orjson.dumps({**line, "logger": "airscope.http", **base}))
                count += 1
            access = {"timestamp": stamp, "level": "info", "logger": "access", "event": "request", **base}
            route = "/api/chat" if service == "api-gateway" else f"/internal/{service.split('-')[0]}"
            access |= {"method": "POST", "route": route, "path": route, "status": 504 if failed else 200}
            access["duration_ms"] = round(rng.lognormvariate(3, 0.6), 3)
            written[service].append(orjson.dumps(access))
            count += 1
    for service, service_lines in written.items():
        if service_lines:  # a service no request reaches has no log
            _write_rotated(log_dir, service, service_lines, now)
    return oldest_trace


def _call_chain(services: dict, rng: random.Random) -> list[str]:
    """A request's path down the catalog's call graph from the gateway (or the frontend before it),
    up to four services deep."""
    chain = ["frontend", "api-gateway"] if rng.random() < 0.3 else ["api-gateway"]
    while len(chain) < 4 and services[chain[-1]].calls and rng.random() < 0.8:
        chain.append(rng.choice(services[chain[-1]].calls))
    return chain


def _write_rotated(log_dir: Path, program: str, lines: list[bytes], now: float) -> None:
    """As supervisord leaves them: files of at most its rotation size, the newest in <program>.log."""
    limit = LOG_MAX_BYTES
    files: list[list[bytes]] = [[]]
    size = 0
    for line in reversed(lines):
        if size + len(line) + 1 > limit:
            files.append([])
            size = 0
        files[-1].append(line)
        size += len(line) + 1
    for backup, newest_first in enumerate(files):
        path = log_dir / (f"{program}.log" if backup == 0 else f"{program}.log.{backup}")
        path.write_bytes(b"\n".join(reversed(newest_first)) + b"\n")
        last = (
            now
            if backup == 0
            else datetime.fromisoformat(orjson.loads(newest_first[0])["timestamp"]).timestamp()
        )
        os.utime(path, (last, last))


@dataclass(frozen=True)
class Timed:
    """The timings of a run over ``lines`` lines in ``files`` files of ``size`` bytes."""

    lines: int
    files: int
    size: int
    results: list[Result]


def _queries(trace_id: str) -> list[tuple[str, list[str], logs.Query]]:
    """Each query as the table labels it, as `airscope logs` flags, and as the store's Query."""
    return [
        ("unfiltered, last 200", [], logs.Query()),
        (f"--trace {trace_id[:8]}... (oldest)", ["--trace", trace_id], logs.Query(trace=trace_id)),
        ("--level error", ["--level", "error"], logs.Query(level="error")),
        ("--level error --limit 0", ["--level", "error", "--limit", "0"], logs.Query(level="error", limit=0)),
        (
            "--service llm-orchestrator --grep 'timed out'",
            ["--service", "llm-orchestrator", "--grep", "timed out"],
            logs.Query(services=frozenset({"llm-orchestrator"}), grep="timed out"),
        ),
        (
            "--since 10m --level warning --limit 0",
            ["--since", "10m", "--level", "warning", "--limit", "0"],
            logs.Query(since=logs.parse_since("10m"), level="warning", limit=0),
        ),
    ]


def _in_process(log_dir: Path, query: logs.Query) -> tuple[int, float]:
    """Matches and the median time of the store's query and the rendering of its lines."""
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        found = list(logs.LogStore(log_dir).query(query))
        for line in found:
            logs.render(line)
        timings.append(time.perf_counter() - started)
    return len(found), statistics.median(timings)


def _end_to_end(home: Path, args: Sequence[str]) -> float:
    env = os.environ | {"AIRSCOPE_HOME": str(home)}
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _CLI, "logs", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if done.returncode:
            raise BenchError(f"airscope logs {' '.join(args)} failed: {done.stderr.decode()}")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run_benchmark(lines: int, progress: Callable[[str], None]) -> Timed:
    """Writes ``lines`` lines into a temporary directory and times the queries."""
    home = Path(tempfile.mkdtemp(prefix="airscope-bench-logs-"))
    try:
        log_dir = home / "log"
        log_dir.mkdir()
        progress(f"writing {lines:,} lines under {log_dir} ...")
        trace_id = write_lines(log_dir, lines)
        files = sum(len(found) for found in logs.log_files(log_dir).values())
        size = sum(path.stat().st_size for path in log_dir.iterdir())
        progress(f"{files} files, {size / 1e6:.0f} MB; timing {RUNS} runs of each query ...")
        results = []
        for label, args, query in _queries(trace_id):
            matches, in_process = _in_process(log_dir, query)
            results.append(Result(label, matches, in_process, _end_to_end(home, args)))
            progress(f"  {label}: done")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return Timed(lines, files, size, results)


def render(timed: Timed) -> str:
    rows = [
        (
            result.label,
            result.matches,
            f"{result.in_process_seconds * 1000:.0f} ms",
            f"{result.cli_seconds * 1000:.0f} ms",
            "ok" if result.cli_seconds <= GOAL_SECONDS else "SLOWER",
        )
        for result in timed.results
    ]
    header = ("query", "matches", "in process", "airscope logs", f"goal {GOAL_SECONDS:g} s")
    return (
        f"{timed.lines:,} lines in {timed.files} files ({timed.size / 1e6:.0f} MB); medians of {RUNS} runs\n"
        + tables.text(header, rows, align="lrrrl")
    )
