"""``airscope bench profile``: where a running service's CPU goes under chat load, sampled by py-spy.

py-spy (PyPI) reads a process's Python stacks from outside, without pausing it (``--nonblocking``):
the service runs unchanged, as `airscope up` started it. It keeps only the samples of threads that
were on a CPU, so its samples share out the CPU time the process spent over the same seconds, which
psutil measures. Meanwhile `airscope load`'s chat mix runs through the gateway at ``rate`` chats/s
(0: no load of its own, for profiling under another load); CPU per chat is the process's CPU
seconds over the chats answered.

Writes one speedscope file per process (open it at https://www.speedscope.app) and answers, per
process, its CPU per chat, its samples by area (the package of the function on top of the stack),
on behalf of whom (the nearest caller that is not a go-between, ``GO_BETWEENS``) and the functions
with the most own time (time in the function itself, not in what it calls).
C code (uvloop, orjson, the SSL and JSON accelerators) shows as the Python function that called it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from airscope.bench.platform import Target
from airscope.errors import AirscopeError
from airscope.local import load, profiling
from airscope.local.load.run import DRAIN_TIMEOUT_SECONDS
from airscope.local.process import cpu_seconds
from airscope.local.profiling import speedscope

CHAT_MIX = {"chat": 1}
SAMPLES_PER_SECOND = 100  # py-spy's default; enough for shares of a few percent over 20 s
SPY_START_SECONDS = 1.0  # py-spy attaches before the load starts, and records past its drain
SPY_EXTRA_SECONDS = 5
# Namespace packages whose second level says more than the first (the SDK vs the API, the kit vs a service).
TWO_LEVEL = frozenset({"opentelemetry", "airscope"})
# Code that works for whoever called it: a sample in it counts, in the "on behalf of" view, for the
# nearest caller outside it (an HTTP client's socket write for the SDK that sent the request; the
# httpx instrumentation wraps every call, so it is a go-between too). The standard library is one.
GO_BETWEENS = frozenset(
    {
        "anyio",
        "sniffio",
        "h11",
        "httpcore",
        "httpcore2",
        "httpx",
        "httpx2",
        "pydantic",
        "pydantic_core",
        "typing_extensions",
        "wrapt",
        "opentelemetry.instrumentation",
        "other",
    }
)
STDLIB = "python"  # the areas of the standard library are its modules, marked by this prefix
EVENT_LOOP = "event loop (its C code, wake-ups, go-betweens)"
WIDTH = 80
SUMMARY = "profile.json"  # beside the speedscope files: what the report prints, every row of it
BUSIEST = 8  # programs named in the line of CPU per chat


@dataclass(frozen=True)
class Function:
    name: str
    area: str

    @property
    def go_between(self) -> bool:
        return self.area in GO_BETWEENS or self.area.startswith(f"{STDLIB} ")


LOOP_RUNNER = Function("Runner.run", f"{STDLIB} asyncio")  # asyncio.run's frame, which runs the loop


@dataclass
class Profile:
    """One process's samples: by own function, by area, by thread."""

    program: str
    file: Path
    cpu_seconds: float = 0.0
    samples: int = 0
    own: Counter[Function] = field(default_factory=Counter)
    areas: Counter[str] = field(default_factory=Counter)
    owners: Counter[str] = field(default_factory=Counter)  # on behalf of: see GO_BETWEENS
    threads: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        return count / self.samples if self.samples else 0.0


@dataclass
class Run:
    seconds: float
    chats: int  # answered with a 2xx
    failed: Counter[str]  # chats not answered with a 2xx: by status, error, or "skipped"
    rate: float
    profiles: list[Profile]
    programs: dict[str, float]  # every program of the platform -> its CPU seconds over the run

    def as_json(self) -> dict[str, Any]:
        """The figures the report prints, every program's and every area's, for a document to quote."""
        return {
            "seconds": self.seconds,
            "rate": self.rate,
            "chats": self.chats,
            "failed": dict(self.failed),
            "programs_cpu_seconds": {p: round(s, 3) for p, s in sorted(self.programs.items())},
            "profiles": {
                profile.program: {
                    "cpu_seconds": round(profile.cpu_seconds, 3),
                    "samples": profile.samples,
                    "areas": dict(profile.areas.most_common()),
                    "on_behalf_of": dict(profile.owners.most_common()),
                    "threads": dict(profile.threads.most_common()),
                }
                for profile in self.profiles
            },
        }

    def ms_per_chat(self, profile: Profile, count: int | None = None) -> float | None:
        """The process's CPU per chat, or the part of it ``count`` of its samples stand for."""
        if not self.chats:
            return None
        ms = profile.cpu_seconds * 1000 / self.chats
        return ms if count is None else ms * profile.share(count)


def area(file: str) -> str:
    """The package a source file belongs to: a site-packages distribution (two levels for the
    namespace ones), airscope's own subpackage, or a standard library module."""
    parts = PurePosixPath(file).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
    elif "airscope" in parts:
        rest = parts[len(parts) - 1 - parts[::-1].index("airscope") :]
    else:
        stdlib = [i for i, part in enumerate(parts) if part.startswith("python3")]
        if stdlib and len(parts) > stdlib[-1] + 1:
            return f"{STDLIB} {parts[stdlib[-1] + 1].removesuffix('.py')}"
        rest = ()
    if not rest:
        return "other"
    names = [part.removesuffix(".py") for part in rest[:-1]] + [rest[-1].removesuffix(".py")]
    depth = 2 if names[0] in TWO_LEVEL and len(names) > 2 else 1
    if names[:2] == ["airscope", "services"] and len(names) > 3:
        depth = 3  # a service's own code, by service (common is shared by all)
    return ".".join(names[:depth])


def _on_behalf_of(leaf_first: Iterable[Function]) -> str:
    """The area of the nearest caller that is not a go-between; below the event loop's own frame
    (uvicorn's start-up, which runs the loop) a sample is the loop's: its C code, or a wake-up."""
    for function in leaf_first:
        if function == LOOP_RUNNER:
            break
        if not function.go_between:
            return function.area
    return EVENT_LOOP


def read_speedscope(program: str, path: Path) -> Profile:
    """A py-spy speedscope file (read by the one reader, ``profiling.speedscope``): every sample's
    leaf frame (the last of its stack) counted."""
    functions: dict[speedscope.Frame, Function] = {}

    def function(frame: speedscope.Frame) -> Function:
        if frame not in functions:
            functions[frame] = Function(frame.name, area(frame.file))
        return functions[frame]

    profile = Profile(program, path)
    for thread, frames in speedscope.read(path).samples():
        stack = [function(frame) for frame in frames]
        leaf = stack[-1]
        profile.samples += 1
        profile.own[leaf] += 1
        profile.areas[leaf.area] += 1
        profile.owners[_on_behalf_of(reversed(stack))] += 1
        profile.threads[thread] += 1
    return profile


def _record(pid: int, seconds: float, output: Path, rate: int) -> subprocess.Popen[bytes]:
    command = profiling.record_command(pid, output, seconds=seconds, rate=rate)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _programs(target: Target, services: tuple[str, ...]) -> dict[str, int]:
    """program -> pid of every instance of ``services`` (a scaled service has ``name@n`` instances)."""
    unknown = set(services) - set(target.services)
    if unknown:
        raise AirscopeError(
            f"no such service: {', '.join(sorted(unknown))} (one of {', '.join(target.services)})"
        )
    found = {
        program: pid
        for program in target.supervisor.names()
        if program.split("@")[0] in services and (pid := target.supervisor.pid(program))
    }
    missing = set(services) - {program.split("@")[0] for program in found}
    if missing:
        raise AirscopeError(f"not running: {', '.join(sorted(missing))} (`airscope up` first)")
    return found


@dataclass
class Recording:
    profiles: list[Profile]
    groups_cpu: dict[str, float]  # every group's CPU seconds over the work
    seconds: float  # how long the work took


def record(
    pids: dict[str, int],
    groups: dict[str, list[int]],
    output: Path,
    work: Callable[[], None],
    *,
    longest: float,
    samples_per_second: int = SAMPLES_PER_SECOND,
) -> Recording:
    """Records each of ``pids`` (name -> pid) with py-spy while ``work`` runs (at most ``longest``
    seconds, past which py-spy stops on its own), and the CPU of ``groups`` (name -> pids) meanwhile."""
    output.mkdir(parents=True, exist_ok=True)
    files = {name: output / f"{name}.speedscope.json" for name in pids}
    spies = {
        name: _record(pid, longest + SPY_EXTRA_SECONDS, files[name], samples_per_second)
        for name, pid in pids.items()
    }
    time.sleep(SPY_START_SECONDS)
    for name, spy in spies.items():
        if spy.poll() is not None:
            raise AirscopeError(f"py-spy could not record {name}: {spy.stderr.read().decode().strip()}")
    own = {name: cpu_seconds([pid]) for name, pid in pids.items()}
    everything = {name: cpu_seconds(members) for name, members in groups.items()}
    started = time.monotonic()
    work()
    elapsed = time.monotonic() - started
    own = {name: cpu_seconds([pid]) - own[name] for name, pid in pids.items()}
    everything = {name: cpu_seconds(members) - everything[name] for name, members in groups.items()}
    for spy in spies.values():
        spy.send_signal(signal.SIGINT)  # py-spy's Ctrl-C: it stops and writes its file
    profiles = []
    for name, spy in spies.items():
        spy.wait()
        if not files[name].exists():
            raise AirscopeError(f"py-spy wrote no profile of {name}: {spy.stderr.read().decode().strip()}")
        profile = read_speedscope(name, files[name])
        profile.cpu_seconds = own[name]
        profiles.append(profile)
    return Recording(profiles, everything, round(elapsed, 2))


def _chats(target: Target, rate: float, seconds: float) -> tuple[int, Counter[str]]:
    """The chat mix through the gateway: chats answered with a 2xx, and why the others were not."""
    settings = load.Settings(
        target.gateway, target.api_key, rps=rate, duration=seconds, seed=load.random_seed()
    )
    run = load.Load(settings, weights=CHAT_MIX)
    asyncio.run(run.run())
    chats, failed = 0, Counter[str]()
    for (method, route, status, error), n in run.tally.counts.items():
        if (method, route) != ("POST", "/api/chat"):
            continue  # the session reads that follow some chats
        if status is not None and 200 <= status < 300:
            chats += n
        else:
            failed[str(status or error)] += n
    failed["skipped"] += sum(run.tally.skipped.values())
    return chats, failed


def measure(
    services: tuple[str, ...],
    seconds: float,
    rate: float,
    output: Path,
    *,
    samples_per_second: int = SAMPLES_PER_SECOND,
    progress: Callable[[str], None] = lambda _: None,
) -> Run:
    """Records ``services`` with py-spy for ``seconds`` while the chat mix runs at ``rate`` chats/s."""
    target = Target.running()
    programs = _programs(target, services)
    answered: list[tuple[int, Counter[str]]] = []

    def work() -> None:
        if rate > 0:
            progress(f"chat mix at {rate:g} chats/s for {seconds:g} s, py-spy on {', '.join(programs)}")
            answered.append(_chats(target, rate, seconds))
        else:
            progress(f"py-spy on {', '.join(programs)} for {seconds:g} s (no load of its own)")
            time.sleep(seconds)

    recording = record(
        programs,
        target.supervisor.processes(),
        output,
        work,
        longest=seconds + DRAIN_TIMEOUT_SECONDS,  # the load waits this long for its last chats
        samples_per_second=samples_per_second,
    )
    chats, failed = answered[0] if answered else (0, Counter[str]())
    run = Run(
        seconds=recording.seconds,
        chats=chats,
        failed=failed,
        rate=rate,
        profiles=recording.profiles,
        programs=recording.groups_cpu,
    )
    (output / SUMMARY).write_text(json.dumps(run.as_json(), indent=1) + "\n")
    return run


# --- the report, 80 columns ---------------------------------------------------------------------------


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(label: str, ms: float | None, share: float, label_width: int) -> str:
    figure = f"{ms:8.2f}" if ms is not None else f"{'-':>8}"
    return f"  {_fit(label, label_width):<{label_width}} {figure} {share:7.1%}"


def render(run: Run, top: int = 15) -> str:
    label_width = WIDTH - 2 - 9 - 8
    lines = []
    if run.chats:
        lines.append(
            f"{run.chats} chats answered in {run.seconds:g} s ({run.chats / run.seconds:.1f}/s), "
            + (", ".join(f"{n} {why}" for why, n in (+run.failed).most_common()) or "none failed")
        )
        total = sum(run.programs.values()) * 1000 / run.chats
        busiest = sorted(run.programs.items(), key=lambda item: -item[1])[:BUSIEST]
        shares = ", ".join(f"{program} {seconds * 1000 / run.chats:.1f}" for program, seconds in busiest)
        lines.append(textwrap.fill(f"CPU ms per chat, every program: {total:.1f} ({shares})", WIDTH))
    else:
        lines.append(f"{run.seconds:g} s recorded, no chats of its own")
    for profile in run.profiles:
        per_chat = run.ms_per_chat(profile)
        cost = f"{per_chat:.2f} ms CPU per chat, " if per_chat is not None else ""
        lines += [
            "",
            f"{profile.program}: {cost}{profile.cpu_seconds / run.seconds:.2f} cores, "
            f"{profile.samples} samples",
            f"  {'area (package of the function on top)':<{label_width}} {'ms/chat':>8} {'share':>7}",
        ]
        lines += [
            _row(name, run.ms_per_chat(profile, n), profile.share(n), label_width)
            for name, n in profile.areas.most_common(top)
        ]
        lines.append(
            f"  {'on behalf of (nearest caller not a go-between)':<{label_width}} {'ms/chat':>8} {'share':>7}"
        )
        lines += [
            _row(name, run.ms_per_chat(profile, n), profile.share(n), label_width)
            for name, n in profile.owners.most_common(top)
        ]
        lines.append(f"  {'function (own time)':<{label_width}} {'ms/chat':>8} {'share':>7}")
        lines += [
            _row(
                f"{function.name} ({function.area})",
                run.ms_per_chat(profile, n),
                profile.share(n),
                label_width,
            )
            for function, n in profile.own.most_common(top)
        ]
        threads = ", ".join(f"{name} {profile.share(n):.0%}" for name, n in profile.threads.most_common(3))
        lines.append(_fit(f"  threads: {threads}", WIDTH))
        lines.append(_fit(f"  speedscope: {profile.file}", WIDTH))
    if run.profiles:
        lines.append(_fit(f"every figure: {run.profiles[0].file.with_name(SUMMARY)}", WIDTH))
    return "\n".join(lines)
