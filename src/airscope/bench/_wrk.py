"""Runs wrk and reads its report: requests per second and the latency percentiles of ``--latency``."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from airscope.bench import BenchError

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m)"
_PERCENTILE = re.compile(rf"^\s+(50|75|90|99)(?:\.0+)?%\s+{_DURATION}\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s+Non-2xx or 3xx responses: (\d+)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE
)


class WrkError(BenchError):
    """wrk is missing, failed, or printed no report."""


@dataclass(frozen=True)
class WrkResult:
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def parse(output: str) -> WrkResult:
    """Reads the report that ``wrk --latency`` prints; raises WrkError when it is not one."""
    percentiles = {int(p): float(value) * _UNITS[unit] for p, value, unit in _PERCENTILE.findall(output)}
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    if rps is None or total is None or not {50, 99} <= percentiles.keys():
        raise WrkError(f"not a wrk --latency report:\n{output.strip()}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        rps=float(rps.group(1)),
        requests=int(total.group(1)),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, socket_errors.groups())) if socket_errors else 0,
    )


def executable() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed (Debian package `wrk`: apt-get install -y wrk)")
    return path


def command(url: str, *, duration: int, connections: int, cpu: int) -> list[str]:
    # One wrk thread is plenty for one Python worker, and keeps wrk on its own CPU.
    return [
        "taskset",
        "-c",
        str(cpu),
        executable(),
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        url,
    ]


def run(url: str, *, duration: int, connections: int, cpu: int) -> WrkResult:
    cmd = command(url, duration=duration, connections=connections, cpu=cpu)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise WrkError(
            f"{' '.join(cmd)} exited with {done.returncode}: {(done.stderr + done.stdout).strip()}"
        )
    return parse(done.stdout)
