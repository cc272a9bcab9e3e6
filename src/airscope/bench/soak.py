"""``airscope soak``: the running local platform under `airscope load`'s mix at half its sustainable
rate for a long time, and whether anything grows that should not.

One open-loop load (``airscope.local.load``, the bench's seed and in-flight limit) runs for the whole
duration; every ``sample`` seconds, and once more after it has settled, a sample records each
program's memory (PSS of its process tree, as the bench counts it; the least of ``MEMORY_READS``
readings), the errors and skipped actions so far, and the series Prometheus holds. The verdict
compares the first sample after warm-up with the last:

- memory: each of the platform's services (its instances together) grows less than 10 %. The
  third-party stores and backends are printed but not judged: they hold data by design (Prometheus'
  head keeps two hours of samples, PostgreSQL's and Redis' caches fill);
- errors: none, and no action skipped (skipped means the platform fell behind the rate);
- series: the live series (``count({__name__=~".+"})``) grow less than 1 %; a label taking a new
  value per request would grow them without end. The node exporter's are counted apart and not
  judged: they follow the machine's filesystems and interfaces, which other programs mount.

Warm-up: the first ``WARMUP_SHARE`` of the run, by default. Imports, connection pools and caches
fill there, and the closed sets of label values (routes, statuses) are met once.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from airscope import tables
from airscope.bench import BenchError
from airscope.bench.counters import machine
from airscope.bench.platform import Target
from airscope.bench.result import MAX_IN_FLIGHT, SEED, SETTLE_SECONDS, Result
from airscope.local import load
from airscope.local.process import pss_bytes
from airscope.units import format_duration

WARMUP_SHARE = 0.2
MEMORY_GROWTH_LIMIT = 0.10
SERIES_GROWTH_LIMIT = 0.01
SERIES_BY_JOB = 'count by (job) ({__name__=~".+"})'
HOST_JOBS = frozenset({"node"})  # series of the machine, not of the platform
# A request holds memory for a moment (platform-services' password hash: 64 MiB for tens of ms), so
# one reading may catch it; the least of a few is what a process keeps, the figure a leak grows.
MEMORY_READS = 3
MEMORY_READ_GAP = 0.5  # seconds
BASELINE_MIX = "mixed"  # the mix `airscope soak` sends; its knee is in the bench's baselines


# --- the verdict's maths -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Growth:
    """A figure's value in the first sample after warm-up and in the last one."""

    baseline: float
    end: float

    @property
    def ratio(self) -> float:
        return (self.end - self.baseline) / self.baseline if self.baseline else 0.0

    def as_json(self) -> dict[str, float]:
        return {"baseline": self.baseline, "end": self.end, "growth": round(self.ratio, 4)}


def growth_after(points: Sequence[tuple[float, float]], warmup: float) -> Growth | None:
    """How ``points`` ((seconds since the start, value), in time order) grew from the first one at or
    after ``warmup`` to the last; None with fewer than two points after warm-up (nothing to compare)."""
    after = [value for at, value in points if at >= warmup]
    return Growth(after[0], after[-1]) if len(after) >= 2 else None


@dataclass(frozen=True)
class Goal:
    name: str
    met: bool
    detail: str


def memory_goal(growths: dict[str, Growth | None], limit: float = MEMORY_GROWTH_LIMIT) -> Goal:
    name = f"memory growth under {limit:.0%} after warm-up, every service"
    judged = {service: growth for service, growth in growths.items() if growth is not None}
    if not judged or len(judged) < len(growths):
        return Goal(name, False, "fewer than two samples after warm-up: run longer or sample more often")
    over = sorted((service, growth.ratio) for service, growth in judged.items() if growth.ratio >= limit)
    if over:
        return Goal(name, False, "grew too much: " + ", ".join(f"{s} {r:+.1%}" for s, r in over))
    worst = max(judged, key=lambda service: judged[service].ratio)
    return Goal(name, True, f"largest: {worst} {judged[worst].ratio:+.1%}")


def error_goal(errors: int, skipped: int) -> Goal:
    return Goal(
        "zero errors, no action skipped",
        errors == 0 and skipped == 0,
        f"{errors} errors, {skipped} actions skipped",
    )


def series_goal(
    growth: Growth | None, by_job: dict[str, Growth | None], limit: float = SERIES_GROWTH_LIMIT
) -> Goal:
    """``growth``: the judged series; ``by_job``: every job's, to name where growth came from."""
    name = f"flat series count: growth under {limit:.0%} after warm-up"
    if growth is None:
        return Goal(name, False, "fewer than two samples after warm-up: run longer or sample more often")
    detail = f"{growth.baseline:.0f} -> {growth.end:.0f} series ({growth.ratio:+.2%})"
    grown = sorted(
        ((job, g.end - g.baseline) for job, g in by_job.items() if g is not None and g.end != g.baseline),
        key=lambda item: -abs(item[1]),
    )
    if grown:
        detail += "; by job: " + ", ".join(
            f"{job} {change:+.0f}" + (" (not judged)" if job in HOST_JOBS else "") for job, change in grown
        )
    return Goal(name, growth.ratio < limit, detail)


# --- samples ---------------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float  # seconds since the load began
    sent: int
    errors: int
    skipped: int
    series: int  # live series, the node exporter's left out (HOST_JOBS)
    series_by_job: dict[str, int]  # every job's live series, the node exporter's included
    head_series: int  # the TSDB head's, stale series included until the next compaction
    memory_mib: dict[str, float]  # program -> PSS of its process tree


def program_memory(groups: dict[str, list[int]]) -> dict[str, float]:
    return {program: round(pss_bytes(pids) / 2**20, 1) for program, pids in sorted(groups.items())}


def least_of(readings: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each program's smallest reading (programs in the first reading)."""
    return {program: min(r.get(program, mib) for r in readings) for program, mib in readings[0].items()}


def service_memory(memory: dict[str, float], services: Sequence[str]) -> dict[str, float]:
    """Each service's instances (``name``, ``name@2``...) together."""
    totals = dict.fromkeys(services, 0.0)
    for program, mib in memory.items():
        service = program.split("@")[0]
        if service in totals:
            totals[service] += mib
    return {service: round(mib, 1) for service, mib in totals.items()}


def take_sample(target: Target, at: float, counted: dict[str, int]) -> Sample:
    """``counted``: the load's sent, errors and skipped at ``at``; the rest is read here."""
    by_job = {job: int(n) for job, n in target.prometheus.values_by(SERIES_BY_JOB, "job").items()}
    groups = target.supervisor.processes()
    readings = [program_memory(groups)]
    for _ in range(MEMORY_READS - 1):
        time.sleep(MEMORY_READ_GAP)
        readings.append(program_memory(groups))
    return Sample(
        at=round(at, 1),
        **counted,
        series=sum(n for job, n in by_job.items() if job not in HOST_JOBS),
        series_by_job=by_job,
        head_series=int(target.prometheus.value("sum(prometheus_tsdb_head_series)") or 0),
        memory_mib=least_of(readings),
    )


# --- the run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    rate: float
    duration: float
    sample: float
    warmup: float
    rate_source: str


def sustainable_rate(result: Result) -> float:
    """The bench's highest rate of the mixed flows below their knee, from its kept baselines."""
    below = result.below_knee(BASELINE_MIX)
    if not below:
        raise BenchError(f"the baselines have no {BASELINE_MIX} step below the knee: give --rate")
    return float(below[-1].rate)


async def _soak(
    target: Target, settings: Settings, progress: Callable[[Sample], None]
) -> tuple[load.Load, list[Sample]]:
    run = load.Load(
        load.Settings(
            gateway=target.gateway,
            api_key=target.api_key,
            rps=settings.rate,
            duration=settings.duration,
            seed=SEED,
            max_in_flight=MAX_IN_FLIGHT,
        )
    )
    samples: list[Sample] = []
    began = time.monotonic()

    async def sample() -> None:
        tally = run.tally  # read here, on the loop that updates it
        counted = {"sent": tally.sent, "errors": tally.errors, "skipped": sum(tally.skipped.values())}
        # /proc and Prometheus are read in a thread: the load's schedule must not wait for them.
        taken = await asyncio.to_thread(take_sample, target, time.monotonic() - began, counted)
        samples.append(taken)
        progress(taken)

    async def every_interval() -> None:
        while True:
            await sample()
            await asyncio.sleep(settings.sample - (time.monotonic() - began) % settings.sample)

    sampler = asyncio.create_task(every_interval())
    sending = asyncio.create_task(run.run())
    # A sample that fails (Prometheus gone) ends the soak then, not after its whole duration.
    await asyncio.wait({sampler, sending}, return_when=asyncio.FIRST_COMPLETED)
    if sampler.done():
        sending.cancel()
        sampler.result()  # raises what stopped it
    sampler.cancel()
    sending.result()
    # The last spans, jobs and sagas finish and one scrape records the last requests.
    await asyncio.sleep(SETTLE_SECONDS)
    await sample()
    return run, samples


def verdict(samples: list[Sample], services: Sequence[str], warmup: float) -> dict[str, Any]:
    memory = {
        service: growth_after(
            [(s.at, service_memory(s.memory_mib, services)[service]) for s in samples], warmup
        )
        for service in services
    }
    programs = sorted({program for s in samples for program in s.memory_mib})
    others = {
        program: growth_after([(s.at, s.memory_mib.get(program, 0.0)) for s in samples], warmup)
        for program in programs
        if program.split("@")[0] not in services
    }
    series = growth_after([(s.at, s.series) for s in samples], warmup)
    jobs = sorted({job for s in samples for job in s.series_by_job})
    by_job = {
        job: growth_after([(s.at, s.series_by_job.get(job, 0)) for s in samples], warmup) for job in jobs
    }
    head = growth_after([(s.at, s.head_series) for s in samples], warmup)
    last = samples[-1]
    goals = [memory_goal(memory), error_goal(last.errors, last.skipped), series_goal(series, by_job)]
    return {
        "met": all(goal.met for goal in goals),
        "goals": [asdict(goal) for goal in goals],
        "memory_mib": {s: g.as_json() if g else None for s, g in memory.items()},
        "other_programs_mib": {p: g.as_json() if g else None for p, g in others.items()},
        "series": series.as_json() if series else None,
        "series_by_job": {job: g.as_json() if g else None for job, g in by_job.items()},
        "head_series": head.as_json() if head else None,
    }


def measure(settings: Settings, command: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """The soak against the running local platform: its report, as ``render`` prints it and --json
    shows it."""
    target = Target.running()
    services = list(target.services)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    progress(
        f"soak: {settings.rate:g} actions/s ({settings.rate_source}) for {_clock(settings.duration)}, "
        f"a sample every {_clock(settings.sample)}, warm-up {_clock(settings.warmup)}"
    )
    try:
        run, samples = asyncio.run(_soak(target, settings, lambda s: progress(sample_line(s, services))))
    except httpx.HTTPError as exc:
        raise BenchError(f"the platform stopped answering ({type(exc).__name__}: {exc}): is it up?") from exc
    summary = run.tally.as_json()
    return {
        "command": command,
        "started_at": started,
        "machine": asdict(machine()),
        "settings": {
            **asdict(settings),
            "seed": SEED,
            "max_in_flight": MAX_IN_FLIGHT,
            "weights": load.WEIGHTS,
        },
        "services": services,
        "totals": summary["totals"],
        "failed_requests": [row for row in summary["requests"] if row["ok"] < row["count"]],
        "samples": [asdict(sample) for sample in samples],
        "verdict": verdict(samples, services, settings.warmup),
    }


# --- what it prints ----------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    return format_duration(round(seconds))


def sample_line(sample: Sample, services: Sequence[str]) -> str:
    memory = service_memory(sample.memory_mib, services)
    return (
        f"{_clock(sample.at):>7}  sent {sample.sent}  errors {sample.errors}  skipped {sample.skipped}  "
        f"series {sample.series} (head {sample.head_series})  MiB: "
        + ", ".join(f"{service} {mib:.0f}" for service, mib in memory.items())
    )


def render(report: dict[str, Any]) -> str:
    result = report["verdict"]
    totals = report["totals"]
    warmup = report["settings"]["warmup"]
    lines = [
        f"{totals['sent']} requests sent, {totals['answered']} answered, {totals['errors']} errors, "
        f"{totals['skipped']} actions skipped; {len(report['samples'])} samples",
        "",
        f"memory (PSS, MiB): first sample after the {_clock(warmup)} warm-up -> last",
    ]
    rows = []
    for judged, figures in ((True, result["memory_mib"]), (False, result["other_programs_mib"])):
        for name, growth in figures.items():
            note = "" if judged else "(not judged)"
            if growth is None:
                rows.append((name, "-", "-", "-", note))
                continue
            rows.append(
                (name, f"{growth['baseline']:.1f}", f"{growth['end']:.1f}", f"{growth['growth']:+.1%}", note)
            )
    header = ("program", "after warm-up", "end", "growth", "")
    lines.append(textwrap.indent(tables.text(header, rows, align="lrrrl", width=78), "  "))
    for row in report["failed_requests"]:
        status = row["status"] if row["status"] is not None else f"no answer ({row['error']})"
        lines.append(f"failed: {row['method']} {row['route']} {status}: {row['count'] - row['ok']}")
    lines.append("")
    for goal in result["goals"]:
        lines.append(f"{'ok' if goal['met'] else 'MISSED':6} {goal['name']}: {goal['detail']}")
    return "\n".join(lines)
