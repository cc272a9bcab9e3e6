"""What the bench reads from the machine: counters before and after a step (CPU time per program and
for the machine, bytes appended to log and span files), how much those files compress, and the
machine itself (CPU, memory, OS, commit) for the documents."""

from __future__ import annotations

import gzip
import os
import platform as host
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from airscope.bench.result import Machine
from airscope.local.process import cpu_seconds
from airscope.local.traces import parse_lines, span_files

SAMPLE_BYTES = 1 << 20  # the last MiB of each file: enough lines for a stable ratio


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot: all but idle and iowait."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


@dataclass
class Snapshot:
    """Counters read at one moment: CPU seconds per program, bytes of every log and span file."""

    at: float
    cpu: dict[str, float]  # program -> CPU seconds of its processes
    machine_cpu: float
    own_cpu: float
    files: dict[Path, tuple[int, int]]  # path -> (inode, size)

    @classmethod
    def take(cls, groups: dict[str, list[int]], files: Iterable[Path]) -> Snapshot:
        sizes = {}
        for path in files:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            sizes[path] = (stat.st_ino, stat.st_size)
        return cls(
            at=time.monotonic(),
            cpu={program: cpu_seconds(pids) for program, pids in groups.items()},
            machine_cpu=machine_busy_seconds(),
            own_cpu=cpu_seconds([os.getpid()]),
            files=sizes,
        )


def grown_bytes(path: Path, before: tuple[int, int] | None, after: tuple[int, int] | None) -> int:
    """Bytes written to ``path`` between two (inode, size) readings. supervisord rotates a log by
    renaming it to ``.1``: a new inode means the rest of the old file is in ``.1``."""
    if after is None:
        return 0
    if before is None:
        return after[1]
    if before[0] == after[0]:
        return max(0, after[1] - before[1])
    try:
        rotated = path.with_name(path.name + ".1").stat().st_size
    except FileNotFoundError:
        rotated = before[1]
    return max(0, rotated - before[1]) + after[1]


class SpanFiles:
    """Reads what each service appended to its span file since the last call (whole lines only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.offsets = {path: path.stat().st_size for path in span_files(directory)}

    def new_spans(self) -> dict[str, tuple[int, int]]:
        """service -> (spans, bytes) appended since the last call."""
        found: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        for path in span_files(self.directory):
            start = self.offsets.get(path, 0)
            with path.open("rb") as stream:
                stream.seek(start)
                chunk = stream.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self.offsets[path] = start + len(complete)
            service = path.stem.split("@")[0]
            found[service] += len(parse_lines(complete))
            sizes[service] += len(complete)
        return {service: (found[service], sizes[service]) for service in found}


def gzip_ratio(paths: Iterable[Path]) -> float:
    """How much gzip (level 6) shrinks the tails of ``paths`` together: raw bytes / compressed."""
    raw = b""
    for path in paths:
        try:
            with path.open("rb") as stream:
                stream.seek(max(0, path.stat().st_size - SAMPLE_BYTES))
                chunk = stream.read()
        except FileNotFoundError:
            continue
        raw += chunk[chunk.find(b"\n") + 1 :]  # whole lines only
    return round(len(raw) / len(gzip.compress(raw, 6)), 2) if raw else 1.0


def cpu_model() -> str:
    """The CPU's model name, as the kernel reports it (psutil does not say)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return host.processor() or "unknown"


def commit() -> str:
    """The checkout's commit, short; "unknown" outside a git checkout."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


def machine() -> Machine:
    return Machine(
        cpu=cpu_model(),
        cores=psutil.cpu_count(),
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        os=host.platform(),
        python=host.python_version(),
        commit=commit(),
    )
