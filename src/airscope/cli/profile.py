"""`airscope profile SERVICE`: where a running service's CPU goes, what holds its memory, or what
every thread is doing now (airscope.local.profiling does the work)."""

from __future__ import annotations

import json
import sys

import click

from airscope.cli._types import Duration
from airscope.local import profiling
from airscope.local.profiling import view


def _progress(message: str) -> None:
    click.echo(message, err=True)


def _ticker(seconds: float):
    """A ticking "12s of 30s" on a terminal's stderr; nothing in a pipe or a log."""
    if not sys.stderr.isatty():
        return None

    def tick(elapsed: float) -> None:
        click.echo(f"\r  {elapsed:.0f}s of {seconds:g}s", err=True, nl=False)

    return tick


@click.command("profile")
@click.argument("service")
@click.option(
    "--instance",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Which instance of a scaled service (`airscope scale`): 1 is the first.",
)
@click.option(
    "--duration",
    type=Duration(),
    default="30s",
    show_default=True,
    help="How long to sample the CPU, or with --memory to trace allocations (at most 5m).",
)
@click.option(
    "--memory",
    is_flag=True,
    help="What the service allocated and still holds, by line (its profiling switch).",
)
@click.option("--dump", is_flag=True, help="Every thread's stack now, at once: what a hung service waits on.")
@click.option("--idle", is_flag=True, help="Sample waiting threads too: wall time, not only CPU time.")
@click.option("--top", default=15, show_default=True, type=click.IntRange(1, 100), help="Rows to print.")
@click.option("--json", "as_json", is_flag=True, help="Print the profile's summary as JSON.")
def profile_command(
    service: str,
    instance: int,
    duration: float,
    memory: bool,
    dump: bool,
    idle: bool,
    top: int,
    as_json: bool,
) -> None:
    """Profile a running service without restarting it. By default py-spy samples its Python stacks
    for --duration and prints the functions with the most CPU time (own: in the function itself;
    total: with what it calls); the whole profile is written as speedscope JSON under
    <home>/profiles/, which the local console opens. docs/profiling.md explains each mode.

    \b
    airscope profile llm-orchestrator --duration 10s
    airscope profile mcp-server --memory --duration 1m
    airscope profile api-gateway --dump"""
    if memory and dump:
        raise click.UsageError("--memory and --dump are two different profiles: ask for one")
    target = profiling.locate(service, instance)
    out_dir = profiling.profiles_dir(target.home)
    if dump:
        text = profiling.dump(target.pid)
        document = {"service": service, "program": target.program, "pid": target.pid, "dump": text}
        click.echo(json.dumps(document, indent=2) if as_json else text.rstrip())
        return
    if memory:
        _progress(f"tracing {target.program}'s allocations for {duration:g}s (its profiling switch)…")
        found = profiling.record_memory(
            target.url,
            service=service,
            program=target.program,
            seconds=duration,
            out_dir=out_dir,
            top=max(top, 20),
        )
        click.echo(json.dumps(found.entry(), indent=2) if as_json else view.render_memory(found, top))
        return
    _progress(f"sampling {target.program} (pid {target.pid}) with py-spy for {duration:g}s…")
    tick = _ticker(duration)
    cpu = profiling.record_cpu(
        target.pid,
        service=service,
        program=target.program,
        seconds=duration,
        out_dir=out_dir,
        idle=idle,
        progress=tick,
    )
    if tick is not None:
        click.echo(err=True)
    click.echo(json.dumps(cpu.entry(), indent=2) if as_json else view.render_cpu(cpu, top, idle=idle))
