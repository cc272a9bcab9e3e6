"""The two PNG charts of docs/performance-baselines.md: latency against load, CPU by process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airscope.bench.result import Result, Step

LATENCY_CHART = "docs/performance/baselines-latency.png"
SERVICES_CHART = "docs/performance/baselines-cpu.png"
CHAT_GOAL = (50.0, 300.0)  # requests/s, p95 ms: issue 8's goal for the gateway's chat path
CHAT_ROUTE = "POST /api/chat"


def charts(result: Result, root: Path) -> list[Path]:
    """Both charts, written under ``root``; their paths."""
    # Imported here, not with the module: matplotlib is the optional `bench` extra and slow to
    # import, and the Markdown alone (`airscope bench chat-tokens` rewrites it) needs none of it.
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return [_latency(plt, result, root / LATENCY_CHART), _cpu(plt, result, root / SERVICES_CHART)]


def _latency(plt: Any, result: Result, path: Path) -> Path:
    mixes = list(result.stopped)
    figure, axes = plt.subplots(1, len(mixes), figsize=(6 * len(mixes), 4.2), squeeze=False)
    for axis, mix in zip(axes[0], mixes, strict=True):
        steps = result.steps_of(mix)
        answered = [s.overall.rps for s in steps]
        for q, style in (("p50", ":"), ("p95", "-"), ("p99", "--")):
            axis.plot(answered, [getattr(s.overall, f"{q}_ms") for s in steps], style, marker="o", label=q)
        if mix == "chat":
            axis.axhline(CHAT_GOAL[1], color="grey", linewidth=0.8)
            axis.axvline(CHAT_GOAL[0], color="grey", linewidth=0.8)
        axis.set_yscale("log")
        axis.set_xlabel("requests/s answered")
        axis.set_ylabel("latency at the client (ms)")
        axis.set_title(f"{mix} mix: latency against load")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    return _save(plt, figure, path)


def _cpu(plt: Any, result: Result, path: Path) -> Path:
    mixes = list(result.stopped)
    figure, axes = plt.subplots(1, len(mixes), figsize=(6 * len(mixes), 4.2), squeeze=False)
    for axis, mix in zip(axes[0], mixes, strict=True):
        steps = result.steps_of(mix)
        programs = _busiest(steps, 7)
        rates = [s.rate for s in steps]
        stacks = [[_cores(s, p) for s in steps] for p in programs]
        rest = [s.machine_cpu_cores - sum(_cores(s, p) for p in programs) for s in steps]
        axis.stackplot(rates, *stacks, [max(0.0, r) for r in rest], labels=[*programs, "everything else"])
        axis.axhline(result.machine.cores, color="black", linewidth=0.8)
        axis.set_xlabel("actions/s offered")
        axis.set_ylabel("CPU (cores)")
        axis.set_title(f"{mix} mix: CPU by process")
        axis.legend(fontsize=7, loc="upper left")
        axis.grid(True, alpha=0.3)
    return _save(plt, figure, path)


def _cores(step: Step, program: str) -> float:
    usage = step.with_load_generator().get(program)
    return usage.cpu_cores if usage else 0


def _busiest(steps: list[Step], n: int) -> list[str]:
    last = steps[-1].with_load_generator()
    return sorted(last, key=lambda p: -last[p].cpu_cores)[:n]


def _save(plt: Any, figure: Any, path: Path) -> Path:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp in the file: the same figures give the same bytes.
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return path
