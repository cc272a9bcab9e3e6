"""``airscope bench overhead``: the telemetry kit's cost against a bare app and the usual libraries.

A uvicorn server per variant (see ``_overhead_apps``), an OTLP/HTTP sink for the row that exports
spans, one wrk; interleaved rounds; medians; a Markdown report with the issue's goals beside the
results (see ``_report``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from airscope.bench import BenchError, _report, _wrk
from airscope.bench._overhead_apps import PATH, VARIANTS, Variant
from airscope.bench._report import Row
from airscope.bench._servers import PyroscopeSink, Server, Sink, free_ports
from airscope.bench._wrk import WrkResult

SERVER_CPU = 0
WRK_CPU = 1
WARMUP_SECONDS = 2
# Lets the previous variant's background work (span batches, log flushes) finish before the next
# variant's run starts on the same CPU.
SETTLE_SECONDS = 1.0
DEFAULT_OUTPUT = "docs/performance/overhead.md"


def measure(*, rounds: int, duration: int, connections: int) -> tuple[list[Row], datetime]:
    """Every variant under wrk, interleaved over ``rounds``; their rows and when the run started."""
    _check_machine()
    started = datetime.now(UTC)
    return _measure(VARIANTS, rounds=rounds, duration=duration, connections=connections), started


def summary(rows: Sequence[Row]) -> str:
    """What the terminal shows: the results, and the goals beside them."""
    return _report.results_table(rows) + "\n\n" + _report.goals_table(rows)


def write(
    rows: Sequence[Row], started: datetime, *, rounds: int, duration: int, connections: int, output: str
) -> Path:
    """The Markdown report of a run at ``output``."""
    document = _report.markdown(
        rows,
        command=_command(rounds, duration, connections, output),
        rounds=rounds,
        duration=duration,
        connections=connections,
        warmup=WARMUP_SECONDS,
        started=started,
    )
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document)
    return path


def _check_machine() -> None:
    _wrk.executable()
    if shutil.which("taskset") is None:
        raise BenchError("taskset is not installed (Debian package util-linux)")
    cpus = os.sched_getaffinity(0)
    if not {SERVER_CPU, WRK_CPU} <= cpus:
        raise BenchError(
            f"needs CPUs {SERVER_CPU} and {WRK_CPU} to keep server and load generator apart; "
            f"this process may only use {sorted(cpus)}"
        )


def _command(rounds: int, duration: int, connections: int, output: str) -> str:
    words = [".venv/bin/airscope", "bench", "overhead", "--rounds", str(rounds), "--duration", str(duration)]
    words += ["--connections", str(connections)]
    if output != DEFAULT_OUTPUT:
        words += ["--output", output]
    return shlex.join(words)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _measure(variants: Sequence[Variant], *, rounds: int, duration: int, connections: int) -> list[Row]:
    workdir = Path(tempfile.mkdtemp(prefix="airscope-overhead-"))
    exporting = [variant for variant in variants if variant.traces == "otlp"]
    profiling = [variant for variant in variants if variant.profiles]
    ports = free_ports(len(variants) + len(exporting) + len(profiling))
    sink_ports = ports[len(variants) : len(variants) + len(exporting)]
    # One per variant that exports over OTLP/HTTP, so that each count is that variant's; on the load
    # generator's CPU: it stands for a collector, which would not share the service's core.
    sinks = {
        variant.key: Sink(port, workdir / variant.key, cpu=WRK_CPU)
        for variant, port in zip(exporting, sink_ports, strict=True)
    }
    # The same for the profiling agent's pushes: a Pyroscope stand-in per profiling variant.
    profile_sinks = {
        variant.key: PyroscopeSink(port, workdir / f"{variant.key}-pyroscope", cpu=WRK_CPU)
        for variant, port in zip(profiling, ports[len(variants) + len(exporting) :], strict=True)
    }
    servers = [
        Server(
            variant,
            port,
            workdir,
            cpu=SERVER_CPU,
            sink=sinks.get(variant.key),
            profile_sink=profile_sinks.get(variant.key),
        )
        for variant, port in zip(variants, ports[: len(variants)], strict=True)
    ]
    runs: dict[str, list[WrkResult]] = {variant.key: [] for variant in variants}
    cpu_us: dict[str, list[float]] = {variant.key: [] for variant in variants}
    requests = dict.fromkeys(runs, 0)

    def load(server: Server, seconds: int) -> tuple[WrkResult, float]:
        """wrk's result, and the server's CPU microseconds per request meanwhile."""
        cpu_before = server.cpu_seconds()
        result = _wrk.run(server.base_url + PATH, duration=seconds, connections=connections, cpu=WRK_CPU)
        cpu = (server.cpu_seconds() - cpu_before) / max(result.requests, 1) * 1e6
        if result.non_2xx:
            raise BenchError(
                f"{server.variant.key}: {result.non_2xx} of {result.requests} responses were not 2xx.\n"
                f"{server.log_tail()}"
            )
        if result.socket_errors:
            _progress(f"  warning: {server.variant.key}: {result.socket_errors} socket errors")
        requests[server.variant.key] += result.requests
        return result, cpu

    for sink in [*sinks.values(), *profile_sinks.values()]:
        sink.log.parent.mkdir()
    processes = [*servers, *sinks.values(), *profile_sinks.values()]
    try:
        for process in processes:
            process.start()
        # All up before any load: a server still importing would compete for CPU 0.
        for process in processes:
            process.wait_ready()
        for server in servers:
            server.check()
            warm, _ = load(server, WARMUP_SECONDS)
            _progress(f"warm-up  {server.variant.key:<20} {warm.rps:>9,.0f} req/s")
        for round_index in range(rounds):
            # Rotated, so that no variant always runs first (or right after the heaviest one).
            shift = round_index % len(servers)
            for server in servers[shift:] + servers[:shift]:
                time.sleep(SETTLE_SECONDS)
                result, cpu = load(server, duration)
                runs[server.variant.key].append(result)
                cpu_us[server.variant.key].append(cpu)
                _progress(
                    f"round {round_index + 1}/{rounds}  {server.variant.key:<20} {result.rps:>9,.0f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  CPU {cpu:5.0f} us/request"
                )
        # Stopped before counting: the tracer providers flush their spans on shutdown (to the sink,
        # which is counted before it stops).
        for server in servers:
            server.stop()
        rows = _rows(servers, runs, cpu_us, requests)
    except BaseException:
        _progress(f"the servers' logs are kept in {workdir}")
        raise
    finally:
        for process in processes:
            process.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return rows


def _rows(
    servers: Sequence[Server],
    runs: dict[str, list[WrkResult]],
    cpu_us: dict[str, list[float]],
    requests: dict[str, int],
) -> list[Row]:
    def median(key: str, field: str) -> float:
        return statistics.median(getattr(result, field) for result in runs[key])

    bare_rps, bare_p99 = median("bare", "rps"), median("bare", "p99_ms")
    rows = []
    for server in servers:
        key = server.variant.key
        rps, p99 = median(key, "rps"), median(key, "p99_ms")
        # Each round ran every variant once: a round's ratio is to the bare app of the same round.
        round_ratios = tuple(
            result.rps / bare.rps for result, bare in zip(runs[key], runs["bare"], strict=True)
        )
        rows.append(
            Row(
                key=key,
                label=server.variant.label,
                rps=rps,
                rps_ratio=rps / bare_rps,
                p50_ms=median(key, "p50_ms"),
                p99_ms=p99,
                p99_ratio=p99 / bare_p99,
                rps_min=min(result.rps for result in runs[key]),
                rps_max=max(result.rps for result in runs[key]),
                round_ratios=round_ratios,
                cpu_us=statistics.median(cpu_us[key]),
                requests=requests[key],
                access_lines=server.access_lines() if server.variant.access_log else None,
                spans=server.spans_exported(),
                profiles=server.profile_sink.pushes_received() if server.profile_sink else None,
            )
        )
    return rows
