"""What `airscope bench` writes: the raw figures as JSON, two PNG charts, and the Markdown baselines.

Everything here reads the JSON the run wrote (``render_all``), so the documents can be written
again from a kept run (``airscope bench --from-json``) without measuring again.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from airscope import tables
from airscope.bench import capacity, chat_tokens, overload, thresholds
from airscope.bench.charts import CHAT_GOAL, CHAT_ROUTE, LATENCY_CHART, SERVICES_CHART, charts
from airscope.bench.result import (
    JSON_PATH,
    KNEE_ERROR_RATIO,
    KNEE_P95_FACTOR,
    SETTLE_SECONDS,
    Result,
    Step,
)

MARKDOWN_PATH = "docs/performance-baselines.md"
OVERHEAD_DOC = "docs/performance/overhead.md"


# --- the document ------------------------------------------------------------------------------------


def overhead_rows(root: Path) -> list[str] | None:
    """The results table of the kit's overhead benchmark, as that benchmark last wrote it."""
    try:
        text = (root / OVERHEAD_DOC).read_text()
    except FileNotFoundError:
        return None
    section = text.split("## Results", 1)[-1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")] or None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _head(result: Result) -> list[str]:
    """Title, how to reproduce, the machine and the method."""
    machine, settings = result.machine, result.settings
    weights = ", ".join(f"{k} {v}" for k, v in settings.weights.items())
    return [
        "# Performance baselines",
        "",
        f"Measured by `airscope bench` on {result.started_at} against the local platform (`make up`), "
        "every service with its full telemetry (metrics, JSON logs, traces at 100 % to OTLP/JSON files) and "
        "the stand-ins at zero added latency. Every figure below comes from that run; the raw figures are in "
        f"[{Path(JSON_PATH).name}](performance/{Path(JSON_PATH).name}). Reproduce with:",
        "",
        "```",
        "make up",
        result.command,
        "```",
        "",
        "## Machine",
        "",
        f"- CPU: {machine.cpu}, {machine.cores} cores (the load generator runs on the same cores)",
        f"- memory: {machine.memory_gib} GiB",
        f"- OS: {machine.os}",
        f"- Python: {machine.python}",
        f"- commit: {machine.commit}",
        "",
        "## Method",
        "",
        "`airscope load`'s open-loop generator sends a fixed mix of the platform's flows through the "
        "api-gateway, planned from one seed, so every run sends the same actions. Two mixes: **mixed** is "
        f"`airscope load`'s own ({weights} "
        "by weight), **chat** is the gateway's chat path alone. Each mix climbs its rates, "
        f"{settings.step_seconds:g} s per step (the first mixed step, the normal load, "
        f"{settings.normal_seconds:g} s), after a {settings.warmup} warm-up "
        "that is not measured, and stops after the first step past its knee: more than "
        f"{KNEE_ERROR_RATIO:.0%} errors, an action skipped because "
        f"{settings.max_in_flight} were in flight, or a p95 over all requests more than "
        f"{KNEE_P95_FACTOR:g}x the mix's first step's. Latencies are the client's, per request "
        "(nearest rank). CPU is each program's processes' CPU time over the step (PostgreSQL's backends "
        "count under postgres), memory their proportional set size at its end. Log bytes are what the "
        "services wrote to stdout; spans are what they exported to their OTLP/JSON files "
        f"(read {SETTLE_SECONDS:g} s after the step, once their batches are out). Series and samples "
        "are Prometheus' own counts (local scrape interval 5 s). Server-side p95s exclude the probes "
        "(`/metrics`, `/health*`).",
        "",
    ]


def _summary(result: Result) -> list[str]:
    """One line per mix: why it stopped, the machine at its knee, its best step below it."""
    cores = result.machine.cores
    lines = []
    for mix, why in result.stopped.items():
        good = result.below_knee(mix)
        best = max(good, key=lambda s: s.overall.rps) if good else None
        knee = result.steps_of(mix)[-1]
        lines.append(
            f"- **{mix}**: {why}. At that step the machine's CPU was "
            f"{knee.machine_cpu_cores / cores:.0%} busy, and calls to Airtable "
            f"({knee.airtable_calls_per_second:.1f}/s; Airtable allows 5/s per base) waited "
            f"{_ms(knee.airtable_wait_p95_ms)} ms (p95) for airtable-gateway's rate limiter."
            + (
                f" Highest step below the knee: {best.rate:g} actions/s, {best.overall.rps:.1f} "
                f"requests/s answered, p95 {best.overall.p95_ms:,.0f} ms, machine CPU "
                f"{best.machine_cpu_cores:.2f} of {cores} cores."
                if best
                else ""
            )
        )
    return lines


# --- the goals (issue 21), met or not ----------------------------------------------------------------

CHAT_CPU_GOAL_MS = 25.0  # across the platform's processes, the load generator left out
MIXED_KNEE_GOAL = 20.0  # actions/s
AIRTABLE_LIMIT = 5  # requests/s per base: Airtable's own limit
HEALTH_ROUTE = "GET /api/health"
HEALTH_P95_GOAL_MS = 20.0
ADMITTED_P95_GOAL_MS = 1000.0
REFUSAL_P95_GOAL_MS = 50.0
RECOVERY_GOAL_SECONDS = 10.0
TERMINAL_WIDTH = 80


@dataclass(frozen=True)
class Goal:
    name: str
    met: bool | None  # None: this run did not measure it
    figure: str


def goals_measured(result: Result) -> bool:
    """Whether the run is from after issue 21's goals (older kept runs render as they always did)."""
    return result.overload is not None or any(step.user_429s is not None for step in result.steps)


def _chat_step(result: Result) -> Step | None:
    """The chat mix's step the goals read: its highest below the knee (else its first)."""
    below, ran = result.below_knee("chat"), result.steps_of("chat")
    return below[-1] if below else (ran[0] if ran else None)


def _chats(step: Step) -> int:
    route = step.routes.get(CHAT_ROUTE)
    return max(1, route.count if route else 0)


def cpu_ms_per_chat(step: Step, *, load_generator: bool) -> float:
    usage = step.with_load_generator() if load_generator else step.processes
    return sum(u.cpu_cores for u in usage.values()) * step.seconds / _chats(step) * 1000


def _chat_goals(result: Result) -> list[Goal]:
    rps, p95 = CHAT_GOAL
    line = chat_goal(result)
    figure = line.split(": met** ", 1)[-1] if ": met**" in line else line.split("on this machine: ", 1)[-1]
    step = _chat_step(result)
    cpu = (
        Goal(
            f"Chat: CPU per chat at most {CHAT_CPU_GOAL_MS:g} ms across the platform's processes",
            None,
            "no chat mix in this run",
        )
        if step is None
        else Goal(
            f"Chat: CPU per chat at most {CHAT_CPU_GOAL_MS:g} ms across the platform's processes",
            cpu_ms_per_chat(step, load_generator=False) <= CHAT_CPU_GOAL_MS,
            f"{cpu_ms_per_chat(step, load_generator=False):.1f} ms at {step.rate:g} chats/s",
        )
    )
    return [
        Goal(
            f"Chat: {rps:g} chats/s with p95 under {p95:g} ms", ": met**" in line, figure.split(". Where")[0]
        ),
        cpu,
    ]


def _mixed_goals(result: Result) -> list[Goal]:
    below, ran = result.below_knee("mixed"), result.steps_of("mixed")
    knee = below[-1].rate if below else None
    watched = [step for step in ran if step.airtable_429s is not None]
    refused = sum(step.airtable_429s or 0 for step in watched)
    peak = max((step.airtable_calls_peak_per_second or 0.0 for step in watched), default=0.0)
    to_users = [step.user_429s for step in below if step.user_429s is not None]
    return [
        Goal(
            f"Mixed: the knee at at least {MIXED_KNEE_GOAL:g} actions/s",
            None if not ran else (knee or 0) >= MIXED_KNEE_GOAL,
            f"highest step below the knee {knee:g} actions/s" if knee else "no step below the knee",
        ),
        Goal(
            f"Mixed: calls to Airtable never above {AIRTABLE_LIMIT}/s per base",
            None if not watched else refused == 0,
            f"{refused} 429s from Airtable (its stand-in refuses past {AIRTABLE_LIMIT}/s per base); "
            f"peak {peak:.1f} calls/s over 10 s, all bases"
            if watched
            else "not measured",
        ),
        Goal(
            "Mixed: no 429 reaching a user (below the knee)",
            None if not to_users else sum(to_users) == 0,
            f"{sum(to_users)} answered 429" if to_users else "not measured",
        ),
    ]


def _health_goal(result: Result) -> Goal:
    normal = result.normal_step()
    route = normal.routes.get(HEALTH_ROUTE) if normal else None
    return Goal(
        f"`{HEALTH_ROUTE}` p95 under {HEALTH_P95_GOAL_MS:g} ms at the normal load",
        None if route is None else route.p95_ms < HEALTH_P95_GOAL_MS,
        f"p95 {route.p95_ms:,.1f} ms ({route.count} requests)" if route else "not measured",
    )


def _overload_goals(result: Result) -> list[Goal]:
    row = result.overload
    if row is None:
        return [Goal("At 2x the knee", None, "not measured (no chat mix, or --overload-seconds 0)")]

    def within(value: float | None, goal: float) -> bool:
        return value is not None and value <= goal

    # Nothing shed is only right when there was no excess: everything admitted, in time.
    took_it_all = row.failed == 0 and within(row.admitted_p95_ms, ADMITTED_P95_GOAL_MS)

    return [
        Goal(
            f"At 2x the knee: admitted p95 under {ADMITTED_P95_GOAL_MS:g} ms",
            row.admitted_p95_ms is not None and row.admitted_p95_ms < ADMITTED_P95_GOAL_MS,
            f"{_ms(row.admitted_p95_ms)} ms, {row.admitted} of {row.offered} admitted",
        ),
        Goal(
            f"At 2x the knee: the excess refused within {REFUSAL_P95_GOAL_MS:g} ms (p95)",
            within(row.refusal_p95_ms, REFUSAL_P95_GOAL_MS) if row.shed else took_it_all,
            f"{_ms(row.refusal_p95_ms)} ms, {row.shed_share:.0%} shed"
            if row.shed
            else f"nothing shed; {row.failed} failed",
        ),
        Goal(
            f"At 2x the knee: back to the normal p95 within {RECOVERY_GOAL_SECONDS:g} s",
            within(row.recovery_seconds, RECOVERY_GOAL_SECONDS),
            f"{row.recovery_seconds:g} s"
            if row.recovery_seconds is not None
            else f"not within {row.seconds:g} s",
        ),
    ]


def goals(result: Result) -> list[Goal]:
    """The platform's goals of issue 21 (the kit's are `airscope bench overhead`'s: ``kit_goals``)."""
    return [*_chat_goals(result), *_mixed_goals(result), _health_goal(result), *_overload_goals(result)]


def kit_goals(root: Path) -> list[Goal]:
    """The kit's goals as `airscope bench overhead` last judged them, from its table in overhead.md
    (its own run: the platform's bench does not load one process alone)."""
    try:
        text = (root / OVERHEAD_DOC).read_text()
    except FileNotFoundError:
        return []
    lines = [
        line
        for line in text.split("## The goals", 1)[-1].split("\n## ", 1)[0].splitlines()
        if line.startswith("|")
    ]
    if len(lines) < 3:
        return []
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    wanted = ("stack", "our goal", "the kit, this run", "met / not met")
    if not set(wanted) <= set(header):
        return []
    found = []
    for line in lines[2:]:
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=False))
        verdict = cells["met / not met"].strip("*")
        found.append(
            Goal(
                f"Kit: {cells['stack']}: {cells['our goal']}",
                {"met": True, "not met": False}.get(verdict),
                f"{cells['the kit, this run']} (overhead.md's run)",
            )
        )
    return found


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "not met", None: "not measured"}[met]


def goals_section(result: Result, root: Path) -> list[str]:
    if not goals_measured(result):
        return []
    rows = [
        (goal.name, goal.figure, f"**{_verdict(goal.met)}**") for goal in [*goals(result), *kit_goals(root)]
    ]
    return [
        "## Goals",
        "",
        "Issue 21's goals: the platform's from this run, the telemetry kit's from "
        "[overhead.md](performance/overhead.md)'s own run:",
        "",
        tables.markdown(("goal", "measured", ""), rows),
        "",
    ]


def goals_text(result: Result, root: Path | None = None) -> str:
    """The goals for the terminal: one per line, its verdict first, its figure below (80 columns);
    the kit's too, from overhead.md, given the checkout's ``root``."""
    lines = ["goals:"]
    indent = " " * 15
    for goal in [*goals(result), *(kit_goals(root) if root else [])]:
        lines.append(
            textwrap.fill(
                goal.name.replace("`", ""),
                TERMINAL_WIDTH,
                initial_indent=f"  {_verdict(goal.met):<13}",
                subsequent_indent=indent,
            )
        )
        lines.append(
            textwrap.fill(goal.figure, TERMINAL_WIDTH, initial_indent=indent, subsequent_indent=indent)
        )
    return "\n".join(lines)


def overload_section(result: Result) -> list[str]:
    row = result.overload
    if row is None:
        return []
    table = tables.markdown(
        (
            "chats/s offered",
            "for",
            "offered",
            "admitted",
            "shed (429/503 with Retry-After)",
            "failed",
            "of which the client gave up",
            "refusals p95 ms",
            "admitted p95 ms",
            "normal p95 ms",
            "back to normal after",
            "failed after",
        ),
        [
            (
                f"{row.rate:g} (2 x {row.knee_rate:g})",
                f"{row.seconds:g} s",
                row.offered,
                row.admitted,
                f"{row.shed} ({row.shed_share:.0%})",
                row.failed,
                row.gave_up,
                _ms(row.refusal_p95_ms),
                _ms(row.admitted_p95_ms),
                _ms(row.normal_p95_ms),
                f"{row.recovery_seconds:g} s" if row.recovery_seconds is not None else "not yet",
                row.after_failed,
            )
        ],
    )
    return [
        "## At 2x the knee",
        "",
        f"Chats offered open loop at twice the chat mix's highest rate below its knee, for {row.seconds:g} s, "
        f"between two stretches of {row.seconds:g} s at {row.normal_rate:g} chats/s (the first gives the normal "
        f"p95). The client gives up on a chat after {row.patience_seconds:g} s: a failure. Shed: refused with "
        "429 or 503 and a `Retry-After`. Back to normal: from the end of the overload to the first "
        f"{overload.RECOVERY_WINDOW_SECONDS:g} s window of chats (one starts every "
        f"{overload.RECOVERY_STEP_SECONDS:g} s) from which every window has a p95 within "
        f"{overload.RECOVERY_FACTOR:g}x the normal p95 and nothing failed or shed.",
        "",
        table,
        "",
        "Refused as the services counted them (`http_server_requests_shed_total`, the whole row): "
        + (", ".join(f"{service} {n:,}" for service, n in row.shed_by_service.items()) or "none")
        + ".",
        "",
    ]


def markdown(result: Result, root: Path) -> str:
    """docs/performance-baselines.md but its last section (``chat_cpu_section``)."""
    parts = [*_head(result), "## Summary", "", *_summary(result)]
    parts += ["", chat_goal(result), ""]
    parts += goals_section(result, root)
    parts += ["## Steps", "", _steps_table(result), ""]
    parts += [f"![latency against load](performance/{Path(LATENCY_CHART).name})", ""]
    parts += overload_section(result)
    if normal := result.normal_step():
        parts += [
            f"## Per route at the normal load ({normal.rate:g} actions/s, mixed)",
            "",
            _routes_table(normal),
            "",
            "## Per service at the normal load, as the client saw it and as Prometheus did",
            "",
            _services_table(normal),
            "",
        ]
    parts += ["## CPU and memory per process", "", _process_table(result), ""]
    parts += [f"![CPU by process](performance/{Path(SERVICES_CHART).name})", ""]
    parts += ["## What the telemetry weighs", "", _telemetry_table(result), ""]
    parts += ["## HighLatency thresholds", "", thresholds.markdown(result), ""]
    rows = overhead_rows(root)
    parts += [
        "## The telemetry kit's own overhead",
        "",
        "From `airscope bench overhead` ([overhead.md](performance/overhead.md), its own run and method): one "
        "FastAPI app with and without the kit, side by side with the usual libraries.",
        "",
        *(rows or ["(overhead.md not found: run `airscope bench overhead`)"]),
        "",
        _kit_share(result, rows),
        "",
        "Capacity at 1x, 10x and 100x of these figures: [capacity.md](capacity.md).",
        "",
    ]
    parts += chat_tokens.markdown_section(root)
    return "\n".join(parts)


def chat_goal(result: Result) -> str:
    rps, p95 = CHAT_GOAL
    chat = result.below_knee("chat")
    met = [
        s
        for s in chat
        if CHAT_ROUTE in s.routes
        and s.routes[CHAT_ROUTE].rps >= rps * 0.98
        and s.routes[CHAT_ROUTE].p95_ms < p95
    ]
    if met:
        step = met[-1]
        return (
            f"**Chat path goal ({rps:g} requests/s with p95 under {p95:g} ms): met** at "
            f"{step.rate:g}/s: {step.routes[CHAT_ROUTE].rps:.1f} chats/s answered, p95 "
            f"{step.routes[CHAT_ROUTE].p95_ms:,.0f} ms."
        )
    steps = [s for s in result.steps_of("chat") if CHAT_ROUTE in s.routes]
    ok = [s for s in steps if s.routes[CHAT_ROUTE].p95_ms < p95 and s.error_ratio <= KNEE_ERROR_RATIO]
    best = (
        f"the highest rate that kept p95 under {p95:g} ms was {ok[-1].rate:g}/s "
        f"(p95 {ok[-1].routes[CHAT_ROUTE].p95_ms:,.0f} ms)"
        if ok
        else "no step kept it"
    )
    return (
        f"**Chat path goal ({rps:g} requests/s with p95 under {p95:g} ms): not met** on this machine: "
        f"{best}. Where the time goes: [below](#where-a-chat-spends-its-cpu)."
    )


def _steps_table(result: Result) -> str:
    rows = []
    for s in result.steps:
        o = s.overall
        rows.append(
            (
                s.mix,
                f"{s.rate:g}",
                f"{o.rps:.1f}",
                _ms(o.p50_ms),
                _ms(o.p95_ms),
                _ms(o.p99_ms),
                f"{s.error_ratio:.2%}",
                s.skipped,
                f"{s.machine_cpu_cores:.2f}",
                f"{s.load_generator_cpu_cores:.2f}",
                f"{s.airtable_calls_per_second:.2f}",
                _ms(s.airtable_wait_p95_ms),
                f"{s.samples_per_second:,.0f}",
            )
        )
    return tables.markdown(
        (
            "mix",
            "actions/s offered",
            "requests/s answered",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "skipped",
            "machine CPU (cores)",
            "of which the load generator",
            "calls to Airtable/s",
            "their rate-limiter wait p95 ms",
            "samples/s",
        ),
        rows,
    )


def _routes_table(step: Step) -> str:
    return tables.markdown(
        ("route", "requests", "requests/s", "p50 ms", "p95 ms", "p99 ms", "errors"),
        (
            (
                f"`{route}`",
                r.count,
                f"{r.rps:.2f}",
                _ms(r.p50_ms),
                _ms(r.p95_ms),
                _ms(r.p99_ms),
                r.errors,
            )
            for route, r in step.routes.items()
        ),
    )


def _services_table(step: Step) -> str:
    rows = []
    for service, t in step.telemetry.items():
        c = step.services.get(service)
        rows.append(
            (
                service,
                f"{c.rps:.2f}" if c else "-",
                _ms(c.p50_ms) if c else "-",
                _ms(c.p95_ms) if c else "-",
                _ms(c.p99_ms) if c else "-",
                f"{t.server_rps:.2f}",
                _ms(t.server_p95_ms),
            )
        )
    return tables.markdown(
        (
            "service",
            "client: requests/s (its routes through the gateway)",
            "client p50 ms",
            "client p95 ms",
            "client p99 ms",
            "Prometheus: requests/s (all callers)",
            "Prometheus p95 ms",
        ),
        rows,
    )


def _process_table(result: Result) -> str:
    picks = [result.normal_step()] + [
        result.below_knee(mix)[-1] for mix in result.stopped if result.below_knee(mix)
    ]
    picks = [p for i, p in enumerate(picks) if p and p not in picks[:i]]
    header = ["process"] + [f"{p.mix} {p.rate:g}/s: CPU cores, MiB" for p in picks]
    programs = sorted(
        {name for p in picks for name in p.with_load_generator()},
        key=lambda name: (
            -max(_cores(p, name) for p in picks),
            name,
        ),
    )
    rows = []
    for name in programs:
        cells = []
        for p in picks:
            usage = p.with_load_generator().get(name)
            cells.append(f"{usage.cpu_cores:.3f}, {usage.memory_mib:,.0f}" if usage else "-")
        rows.append((name, *cells))
    rows.append(("**machine**", *(f"{p.machine_cpu_cores:.2f}" for p in picks)))
    return tables.markdown(header, rows)


def _cores(step: Step, program: str) -> float:
    usage = step.with_load_generator().get(program)
    return usage.cpu_cores if usage else 0


def _telemetry_table(result: Result) -> str:
    step = result.normal_step() or result.steps[0]
    requests = max(1, step.overall.count)
    rows = []
    for service, t in step.telemetry.items():
        rows.append(
            (
                service,
                f"{t.log_bytes / requests:,.0f}",
                f"{t.spans / requests:.2f}",
                f"{t.span_bytes / requests:,.0f}",
                t.series,
            )
        )
    total = step.per_request()
    rows.append(
        (
            "**all services**",
            f"**{total['log_bytes']:,.0f}**",
            f"**{total['spans']:.2f}**",
            f"**{total['span_bytes']:,.0f}**",
            f"**{step.service_series()}**",
        )
    )
    return (
        f"Per request the load sent through the gateway, at the normal load ({step.rate:g} actions/s, "
        f"{requests} requests), and the series each service exposes (Prometheus counted "
        f"{step.head_series:,} series in all, with the exporters and itself):\n\n"
        + tables.markdown(
            (
                "service",
                "log bytes per request",
                "spans per request",
                "span bytes (OTLP/JSON) per request",
                "series",
            ),
            rows,
        )
    )


def _kit_share(result: Result, rows: list[str] | None) -> str:
    """The kit's cost per request from the overhead table, against the platform's CPU per request."""
    if not rows:
        return ""
    rps = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rps[cells[0]] = float(cells[1].replace(",", ""))
    bare, full = rps.get("bare FastAPI"), rps.get("kit: metrics + log + tracing 100 % to its OTLP JSON file")
    step = result.normal_step()
    if not (bare and full and step):
        return ""
    added_us = (1 / full - 1 / bare) * 1e6
    hops = sum(t.server_rps for t in step.telemetry.values()) / max(step.overall.rps, 1e-9)
    cpu_ms = step.machine_cpu_cores - step.load_generator_cpu_cores
    cpu_per_request_ms = cpu_ms / max(step.overall.rps, 1e-9) * 1000
    return (
        f"Read against the platform: the kit as local mode runs it adds about {added_us:.0f} µs of CPU to each "
        f"request a service serves (1/{full:,.0f} - 1/{bare:,.0f} s). At the normal load every request "
        f"through the gateway was served {hops:.1f} times by our services (Prometheus' request rates, "
        f"probes excluded), and the platform spent {cpu_per_request_ms:.1f} ms of CPU per request (the "
        f"machine's CPU without the load generator's): the kit's server-side share is about "
        f"{hops * added_us / 1000 / max(cpu_per_request_ms, 1e-9):.0%} of it, before the client spans, "
        "log lines and span export of the calls each service makes."
    )


def _busiest_at_knee(result: Result, mix: str) -> str:
    steps = result.steps_of(mix)
    if not steps or "past the knee" not in result.stopped.get(mix, ""):
        return ""
    knee = steps[-1]
    name, usage = max(knee.processes.items(), key=lambda item: item[1].cpu_cores)
    return (
        f" At the knee ({knee.rate:g}/s) the busiest process, {name}, used {usage.cpu_cores:.2f} "
        "of the one core a uvicorn process can use (one event loop), with the machine "
        f"{knee.machine_cpu_cores / result.machine.cores:.0%} busy."
    )


def chat_cpu_section(result: Result) -> str:
    chat = result.steps_of("chat")
    if not chat:
        return ""
    step = result.below_knee("chat")[-1] if result.below_knee("chat") else chat[0]
    chat_route = step.routes.get(CHAT_ROUTE)
    chats = _chats(step)
    chat_rps = max(chat_route.rps if chat_route else 0, 1e-9)
    usage = step.with_load_generator()
    rows = []
    for name, u in sorted(usage.items(), key=lambda item: -item[1].cpu_cores):
        ms = u.cpu_cores * step.seconds / chats * 1000
        t = step.telemetry.get(name)
        served = f"{t.server_rps / chat_rps:.1f}" if t else "-"
        spans = f"{t.spans / chats:.1f}" if t else "-"
        if ms >= 0.05:
            rows.append((name, f"{ms:.2f}", served, spans))
    total = cpu_ms_per_chat(step, load_generator=True)
    cores = result.machine.cores
    return "\n".join(
        [
            "## Where a chat spends its CPU",
            "",
            f"At {step.rate:g} chats/s (the chat mix's highest step below its knee): CPU per chat answered, "
            "requests each service served per chat (Prometheus' rates, probes excluded) and spans it "
            f"exported per chat. {total:.1f} ms of CPU per chat in all, on {cores} cores: at most "
            f"{cores * 1000 / max(total, 1e-9):.0f} chats/s with the machine fully busy, and latency "
            "climbs well before that, as queues form on the busiest process."
            + _busiest_at_knee(result, "chat"),
            "",
            tables.markdown(
                ("process", "CPU ms per chat", "requests served per chat", "spans per chat"), rows
            ),
            "",
            _what_a_chat_is(result),
            "",
            _chat_cpu_outlook(result, total),
        ]
    )


def _what_a_chat_is(result: Result) -> str:
    if goals_measured(result):
        return (
            "A chat is two completions from the LLM stand-in (the model asks for a tool, then answers), a "
            "tools/call to mcp-server per tool the model asks for, on the MCP session llm-orchestrator keeps "
            "open, the tool's call to airtable-gateway (a cached Airtable read), the session history read "
            "and written in PostgreSQL and Redis, the day's LLM budget in Redis, and an activity report to "
            "platform-services. Every hop runs through uvicorn with the kit, which records every span in "
            "local mode and encodes it to OTLP/JSON in the process."
        )
    return (
        "A chat is two completions from the LLM stand-in (the model asks for a tool, then answers), one "
        "MCP session with mcp-server (the SDK's server/discover, tools/list, then a tools/call per tool "
        "the model asks for: a request each), the tool's call to airtable-gateway (a Redis-cached "
        "Airtable read), the session history read and written in PostgreSQL and Redis, the day's LLM "
        "budget in Redis, and an activity report to platform-services. Every hop runs through uvicorn "
        "with the kit, which records every span in local mode (a client span for each HTTP call, SQL "
        "statement and Redis command too) and encodes it to OTLP/JSON in the process. llm-orchestrator's share is the OpenAI SDK building and parsing each completion, the "
        "mcp SDK's session machinery (anyio streams and tasks), and its spans."
    )


def _chat_cpu_outlook(result: Result, total: float) -> str:
    cores = result.machine.cores
    budget = f"needs about {cores * 1000 * 0.8 / CHAT_GOAL[0]:.0f} ms of CPU per chat at 80 % busy"
    if goals_measured(result):
        return (
            f"Reaching {CHAT_GOAL[0]:g} chats/s on {cores} cores, with the load generator on them too, "
            f"{budget}; this run spent {total:.1f} ms. Where each service's share goes, function by "
            "function, as py-spy sampled it (`airscope bench profile`): "
            "[where-the-time-goes.md](performance/where-the-time-goes.md#the-chat-path)."
        )
    return (
        f"Reaching {CHAT_GOAL[0]:g} chats/s on {cores} cores, with the load generator on them too, "
        f"{budget}: "
        "about half of the above. What would get there, in the order of what it saves: one long-lived "
        "MCP session per llm-orchestrator process instead of one per chat (two of mcp-server's three "
        "requests per chat, and their spans on both sides, go away; it needs re-initialising the session when "
        "mcp-server restarts); production's 10 % trace sampling instead of local mode's 100 % (most "
        "span encoding goes away); and more than one uvicorn worker for llm-orchestrator on a machine "
        "with more cores. The first was left for now: one session per chat is the MCP SDK's simple, "
        "robust use, and this machine's two cores are the limit, not the design."
    )


# --- writing -----------------------------------------------------------------------------------------


def render_markdown(result: Result, root: Path) -> Path:
    """docs/performance-baselines.md alone (what `airscope bench chat-tokens` adds to it changes)."""
    document = markdown(result, root).rstrip("\n") + "\n\n" + chat_cpu_section(result) + "\n"
    path = root / MARKDOWN_PATH
    path.write_text(re.sub(r"\n{3,}", "\n\n", document))
    return path


def render_all(result: Result, root: Path) -> list[Path]:
    """The Markdown, the charts and the capacity document from ``result``; the paths written."""
    written = charts(result, root)
    written.append(render_markdown(result, root))
    capacity_path = root / capacity.MARKDOWN_PATH
    capacity_path.write_text(capacity.markdown(result))
    written.append(capacity_path)
    return written
