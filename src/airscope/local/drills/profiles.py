"""The profile a drill attaches to its report and record: what the slowed service spent its CPU on, or
what the service holding memory allocated, taken while the fault is active (airscope.local.profiling).

It runs in a thread beside the drill, so the drill's timing is the same with it or without it. A CPU
profile starts right after the fault is injected; a memory profile just before, so that tracemalloc
is tracing when the memory is allocated (its window covers the injection). A profile that cannot be
taken here (py-spy missing, no permission to read another process, the service without its switch)
never fails the drill: the drill says why, and carries on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airscope.errors import AirscopeError
from airscope.local import profiling
from airscope.local.drills.faults import Target

CPU, MEMORY = "cpu", "memory"
# Long enough for a few hundred samples at py-spy's 100 a second, short beside any drill's bound (the
# fault is still active when it ends: no alert is notified within 10 s).
SECONDS = 10.0
# How long a memory profile's request is given to start tracemalloc before the fault is injected: the
# switch starts it as the request arrives, on a local socket.
TRACING_STARTS = 1.0
TOP = 3  # the functions or lines a drill's report shows (the file holds them all)


@dataclass(frozen=True)
class Attach:
    """The profile a scenario attaches: CPU or memory, of the first instance of ``service``."""

    kind: str
    service: str
    seconds: float = SECONDS

    def __post_init__(self) -> None:
        if self.kind not in (CPU, MEMORY):
            raise ValueError(f"no {self.kind!r} profile: {CPU} or {MEMORY}")


class Taking:
    """One profile being taken in a thread: ``start()``, later ``wait()``, then ``entry`` (the
    profile's ``entry()`` with its console URL) or ``why_not``. ``say`` tells the outcome as soon as
    there is one (the drill's progress), while the drill goes on waiting for its alert."""

    def __init__(
        self, attach: Attach, target: Target, say: Callable[[str], None] = lambda text: None
    ) -> None:
        self.attach = attach
        self.target = target
        self.say = say
        # The supervisor names a service's first instance after the service (the others `name@N`).
        self.program = attach.service
        self.entry: dict[str, Any] | None = None
        self.why_not: str | None = None
        self._thread = threading.Thread(target=self._take, name=f"drill {attach.kind} profile", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def wait(self) -> None:
        """Until the profile is written or refused (its window, and py-spy's or the switch's answer)."""
        self._thread.join()

    def _take(self) -> None:
        home = self.target.plat.home
        try:
            out_dir = profiling.profiles_dir(home)
            if self.attach.kind == CPU:
                pid = self.target.sup.pid(self.program)
                if pid is None:
                    raise profiling.ProfileError(f"{self.program} is not running")
                taken = profiling.record_cpu(
                    pid,
                    service=self.attach.service,
                    program=self.program,
                    seconds=self.attach.seconds,
                    out_dir=out_dir,
                )
            else:
                taken = profiling.record_memory(
                    self.target.url(self.program),
                    service=self.attach.service,
                    program=self.program,
                    seconds=self.attach.seconds,
                    out_dir=out_dir,
                )
        # Whatever goes wrong here is the profile's, not the fault's: the drill goes on without it.
        except AirscopeError as exc:
            self.why_not = str(exc)
        except Exception as exc:
            self.why_not = f"{type(exc).__name__}: {exc}"
        else:
            self.entry = taken.entry()  # its kind and console URL among the rest
        if self.entry is None:
            self.say(f"  profile: not taken ({self.why_not}); the drill goes on without it")
        else:
            self.say("  profile: " + "\n  ".join(summary(self.entry)))


def _bytes(count: int) -> str:
    return f"{count / 1024**2:.1f} MiB" if abs(count) >= 1024**2 else f"{count / 1024:.0f} KiB"


def summary(entry: dict[str, Any]) -> list[str]:
    """The profile in a report's lines: what it is, its top functions or lines, where to open it."""
    top = entry.get("top", [])[:TOP]
    if entry.get("kind") == MEMORY:
        head = (
            f"memory of {entry['program']} over {entry['seconds']:g} s: {_bytes(entry['traced_bytes'])} "
            f"traced, grown most at"
        )
        lines = [f"{_bytes(t['grown_bytes'])} at {t['file']}:{t['line']}" for t in top]
    else:
        head = (
            f"CPU of {entry['program']} over {entry['seconds']:g} s, {entry['samples']} samples, on top most:"
        )
        lines = [
            f"{t['own']:.0%} own, {t['total']:.0%} total: {t['name']} ({t['file']}:{t['line']})" for t in top
        ]
    if not lines:
        lines = [
            "nothing grew"
            if entry.get("kind") == MEMORY
            else "nothing: no sample caught it on a CPU (it waits; its traces say on what)"
        ]
    return [head, *(f"  {line}" for line in lines), entry["url"]]
