"""CPU profiles and thread dumps of a running process, by py-spy from outside: the service runs
unchanged, without a restart, paused by neither (``--nonblocking`` for the samples)."""

from __future__ import annotations

import math
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from airscope.local.profiling import speedscope
from airscope.local.profiling._files import CPU_FILE, ProfileError, console_url, new_path
from airscope.local.profiling.speedscope import FunctionShare

RATE = 100  # py-spy's default: a sample every 10 ms, shares of a percent over a few seconds
KEPT_FUNCTIONS = 50  # what the entry keeps: far more than a terminal shows, far less than a profile has
STOP_SECONDS = 5.0  # py-spy writes its file within this after Ctrl-C (milliseconds, usually)
DUMP_SECONDS = 30.0
# Past the asked duration py-spy would stop by itself: only if this process dies before its Ctrl-C.
SAFETY_SECONDS = 2


@dataclass(frozen=True)
class CpuProfile:
    service: str
    program: str
    pid: int
    seconds: float
    samples: int
    path: Path  # the speedscope JSON written
    top: tuple[FunctionShare, ...]  # by own share, largest first

    def entry(self) -> dict[str, Any]:
        """JSON-able: what `airscope profile --json` prints and the drills record."""
        return {
            "kind": "cpu",
            "service": self.service,
            "program": self.program,
            "pid": self.pid,
            "seconds": self.seconds,
            "samples": self.samples,
            "path": str(self.path),
            "url": console_url(self.path),
            "top": [function.entry() for function in self.top],
        }


def py_spy() -> str:
    """py-spy's executable: on the PATH, else beside this Python's (the project's venv has it)."""
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise ProfileError("py-spy is not installed: `.venv/bin/pip install py-spy` (`make up` installs it)")
    return found


def record_command(pid: int, output: Path, *, seconds: float, rate: int, idle: bool = False) -> list[str]:
    """py-spy record of ``pid`` into a speedscope file, one frame per function, full file names."""
    return [
        py_spy(),
        "record",
        *("--pid", str(pid)),
        *("--duration", str(math.ceil(seconds))),
        *("--rate", str(rate)),
        *("--format", "speedscope"),
        *("--output", str(output)),
        "--nonblocking",
        "--function",
        "--full-filenames",
        *(["--idle"] if idle else []),
    ]


def _refused(what: str, program: str, pid: int, said: str) -> ProfileError:
    said = " ".join(said.split()) or "no message"
    if "permission" in said.lower() or "operation not permitted" in said.lower():
        return ProfileError(
            f"py-spy may not read {program} (pid {pid}): {said}. It reads another process's memory: run "
            "as root (sudo .venv/bin/airscope profile ...), or allow ptrace "
            "(sudo sysctl kernel.yama.ptrace_scope=0)"
        )
    return ProfileError(
        f"py-spy could not {what} {program} (pid {pid}): {said}. Is it running? `airscope status`"
    )


def _check_alive(pid: int, program: str) -> None:
    if not psutil.pid_exists(pid):
        raise ProfileError(f"no process {pid} ({program}): is it running? `airscope status`")


def record_cpu(
    pid: int,
    *,
    service: str,
    program: str,
    seconds: float,
    out_dir: Path,
    idle: bool = False,
    rate: int = RATE,
    progress: Callable[[float], None] | None = None,
) -> CpuProfile:
    """Samples ``pid``'s Python stacks for ``seconds`` (threads on a CPU only, unless ``idle``: then
    waiting threads too, wall time) into ``<out_dir>/<stamp>-<program>-cpu.speedscope.json``.

    ``progress`` is called about once a second with the seconds sampled so far.
    """
    _check_alive(pid, program)
    path = new_path(out_dir, program, CPU_FILE)
    command = record_command(pid, path, seconds=seconds + SAFETY_SECONDS, rate=rate, idle=idle)
    with tempfile.TemporaryFile() as said:
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=said)
        try:
            began = time.monotonic()
            while (elapsed := time.monotonic() - began) < seconds:
                try:
                    spy.wait(timeout=min(1.0, seconds - elapsed))
                except subprocess.TimeoutExpired:
                    if progress is not None:
                        progress(min(time.monotonic() - began, seconds))
                    continue
                said.seek(0)
                raise _refused("record", program, pid, said.read().decode(errors="replace"))
            spy.send_signal(signal.SIGINT)  # py-spy's Ctrl-C: it stops sampling and writes its file
            spy.wait(timeout=STOP_SECONDS)
        finally:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        if not path.exists():
            said.seek(0)
            raise _refused("record", program, pid, said.read().decode(errors="replace"))
    document = speedscope.read(path)
    return CpuProfile(
        service=service,
        program=program,
        pid=pid,
        seconds=round(seconds, 3),
        samples=document.count,
        path=path,
        top=speedscope.shares(document, KEPT_FUNCTIONS),
    )


def dump(pid: int) -> str:
    """Every thread's Python stack in ``pid`` now, innermost frame first (py-spy dump): what a hung
    process is waiting on."""
    _check_alive(pid, f"pid {pid}")
    try:
        done = subprocess.run(
            [py_spy(), "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=DUMP_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise ProfileError(f"py-spy dump of pid {pid} took over {DUMP_SECONDS:.0f} s: try again") from None
    if done.returncode != 0:
        raise _refused("dump", f"pid {pid}", pid, done.stderr or done.stdout)
    return done.stdout
