"""The `airscope` command. Each subcommand is a thin shell over the module that does the work."""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs (or --help lists it), so every
    `airscope` call does not pay for every module's imports. Click's documented lazy-loading pattern."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)


@click.group(
    cls=LazyGroup,
    lazy={
        "drill": "airscope.local.drills.run:drill_command",
        "fuzz": "airscope.local.fuzz:fuzz_command",
        "load": "airscope.local.load:load_command",
        "logs": "airscope.local.logs:logs_command",
        "soak": "airscope.bench.soak:soak_command",
        "train": "airscope.local.drills.training:train_command",
        "trace": "airscope.local.traces:trace_command",
        "traces": "airscope.local.traces:traces_command",
    },
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="airscope")
def main() -> None:
    """Run and watch the PyAirtable platform locally."""


@main.command()
def up() -> None:
    """Start the local platform (PostgreSQL, Redis, every service that exists) and wait until healthy."""
    from airscope.local.runner import up as run_up

    run_up()


@main.command()
def down() -> None:
    """Stop everything `airscope up` started. Data stays under var/ (or $AIRSCOPE_HOME)."""
    from airscope.local.runner import down as run_down

    run_down()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until Ctrl-C.")
def status(as_json: bool, watch: bool) -> None:
    """Every service instance: health, up, requests/s, error %, p95, firing alerts.
    Exits 0 only when all is healthy."""
    import json
    import time

    from airscope.local import status as local_status

    while True:
        current = local_status.collect()
        if watch and not as_json:
            click.clear()
        click.echo(json.dumps(current.as_json(), indent=2) if as_json else local_status.render(current))
        if not watch:
            break
        time.sleep(2)
    if not current.healthy:
        raise SystemExit(1)


@main.command()
@click.argument("name")
def stop(name: str) -> None:
    """Stop a service (every instance) or another program (redis, prometheus...); it stays stopped
    until `airscope start NAME`."""
    from airscope.local import control

    click.echo(f"stopped: {', '.join(control.stop(name))}")


@main.command()
@click.argument("name")
def start(name: str) -> None:
    """Start what `airscope stop NAME` stopped, and wait until it is ready."""
    from airscope.local import control

    click.echo(f"started: {', '.join(control.start(name))}")


@main.command()
@click.argument("service")
@click.argument("count", type=int)
def scale(service: str, count: int) -> None:
    """Run COUNT instances of SERVICE on free ports; Prometheus finds them through file_sd."""
    from airscope.local import control

    instances = control.scale(service, count)
    for program, port in instances.items():
        click.echo(f"{program:<28} http://127.0.0.1:{port}")
    seconds = control.wait_discovered(service, set(instances))
    click.echo(
        f"Prometheus scrapes all {len(instances)} instance(s) of {service}, {seconds:.1f}s after the change"
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the alerts and notifications as JSON.")
def alerts(as_json: bool) -> None:
    """Firing alerts (Alertmanager) and the notifications the local receiver got."""
    import json

    from airscope.local import status as local_status

    found = local_status.alerts()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if found["alertmanager_error"]:
        click.echo(found["alertmanager_error"])
    for alert in found["firing"]:
        labels = alert["labels"]
        click.echo(
            f"FIRING {labels['alertname']} service={labels.get('service', '-')} "
            f"severity={labels.get('severity')} since {alert['startsAt']}: {alert['annotations'].get('summary', '')}"
        )
    if not found["firing"]:
        click.echo("no alert is firing")
    click.echo(f"{len(found['notifications'])} notification(s) received:")
    for kept in found["notifications"][-20:]:
        note = kept["notification"]
        names = sorted({a["labels"].get("alertname", "?") for a in note.get("alerts", [])})
        click.echo(
            f"  {kept['received_at']} {kept['receiver']:<6} {note.get('status', '?'):<8} {', '.join(names)}"
        )


@main.command()
@click.option("--check", is_flag=True, help="Change nothing; fail when a generated file is stale.")
def gen(check: bool) -> None:
    """Write the generated files (deploy/, docs/metrics.md, docs/reference.md) from the catalog and the code."""
    from airscope import gen as generators

    if check:
        stale = generators.stale()
        if stale:
            raise click.ClickException(
                f"stale generated files: {', '.join(stale)}; run `.venv/bin/airscope gen` and commit them"
            )
        click.echo("generated files are up to date")
        return
    changed = generators.write()
    click.echo(f"wrote {', '.join(changed)}" if changed else "generated files were already up to date")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--live",
    is_flag=True,
    help="Instead: run `airscope load` on the local platform, then check every dashboard query has "
    "data and the gateway's counts and p95s match what the load saw.",
)
@click.option("--duration", default=60.0, show_default=True, help="With --live: seconds of load.")
@click.option("--rps", default=5.0, show_default=True, help="With --live: actions per second.")
def check(as_json: bool, live: bool, duration: float, rps: float) -> None:
    """Check the generated stack statically: promtool, amtool, PromQL against exported metrics,
    dashboards, the backends' configs and the compose file. Exits 1 on any problem."""
    import json

    from airscope import gen as generators
    from airscope.stack import checks

    root = generators.checkout()
    if live:
        _check_live(root, as_json, duration, rps)
        return
    results = []
    for description, problems in checks.run(root):
        results.append({"check": description, "problems": problems})
        if not as_json:
            click.echo(f"{'ok' if not problems else 'FAILED':6} {description}")
            for problem in problems:
                click.echo("       - " + problem.replace("\n", "\n         "))
    if as_json:
        click.echo(json.dumps(results, indent=2))
    failed = sum(len(r["problems"]) for r in results)
    if failed:
        raise click.ClickException(f"{failed} problem(s) in the generated stack")


def _check_live(root, as_json: bool, duration: float, rps: float) -> None:
    import json
    from dataclasses import asdict

    from airscope.local import runner
    from airscope.stack.checks import live

    plat = runner.platform()
    report = live.run(
        root,
        f"http://127.0.0.1:{plat.observability_ports['prometheus']}",
        f"http://127.0.0.1:{plat.service_ports['api-gateway']}",
        plat.api_key,
        duration,
        rps,
    )
    if as_json:
        click.echo(json.dumps({**asdict(report), "problems": report.problems}, indent=2))
    else:
        click.echo(f"{report.sent} requests over {report.window_seconds} s; {report.panels} panel queries")
        for title, problems in (
            ("dashboard panels with data", report.empty),
            ("request counts: client = Prometheus", report.counts),
            ("p95 per route within one bucket", report.p95),
            ("domain counters = what the answers prove", report.domain),
        ):
            click.echo(f"{'ok' if not problems else 'FAILED':6} {title}")
            for problem in problems:
                click.echo("       - " + problem)
    if report.problems:
        raise click.ClickException(f"{len(report.problems)} problem(s) against the live platform")


def _rates(value: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of rates such as 5,10,20") from None
    if not rates or any(rate <= 0 for rate in rates) or list(rates) != sorted(rates):
        raise click.BadParameter(f"{value!r}: give rising rates above 0, such as 5,10,20")
    return rates


@main.group(
    cls=LazyGroup,
    lazy={
        "chat-tokens": "airscope.bench.chat_tokens:chat_tokens_command",
        "logs": "airscope.bench.logs:bench_logs_command",
        "telemetry-outage": "airscope.bench.telemetry_outage:telemetry_outage_command",
    },
    invoke_without_command=True,
)
@click.option(
    "--mixed",
    "mixed_rates",
    default="5,7,10,15,20,30,40",
    show_default=True,
    help="Rates (actions/s) of the mixed flows, climbed until past the knee.",
)
@click.option(
    "--chat",
    "chat_rates",
    default="10,20,30,40,50,60",
    show_default=True,
    help="Rates (chats/s) of the chat path alone; '' skips it.",
)
@click.option("--step-seconds", default=30.0, show_default=True, help="Seconds of load per step.")
@click.option(
    "--normal-seconds",
    default=120.0,
    show_default=True,
    help="Seconds of the normal-load step (mixed at 5/s), which the HighLatency thresholds come from.",
)
@click.option(
    "--from-json",
    type=click.Path(exists=True, dir_okay=False),
    help="Write the documents again from a kept run's JSON instead of measuring.",
)
@click.pass_context
def bench(
    ctx: click.Context,
    mixed_rates: str,
    chat_rates: str,
    step_seconds: float,
    normal_seconds: float,
    from_json: str | None,
) -> None:
    """Performance baselines of the running local platform (`make up` first): a fixed mix through the
    gateway at stepped rates until past the knee. Writes docs/performance-baselines.md, its JSON and
    charts, and docs/capacity.md. The subcommands measure parts alone."""
    if ctx.invoked_subcommand is not None:
        return
    import json
    import shlex
    from pathlib import Path

    from airscope import gen
    from airscope.bench import baselines

    root = gen.checkout()
    if from_json:
        result = json.loads(Path(from_json).read_text())
    else:
        rates = {"mixed": _rates(mixed_rates)} | ({"chat": _rates(chat_rates)} if chat_rates.strip() else {})
        command = shlex.join(
            [
                ".venv/bin/airscope",
                "bench",
                "--mixed",
                mixed_rates,
                "--chat",
                chat_rates,
                "--step-seconds",
                f"{step_seconds:g}",
                "--normal-seconds",
                f"{normal_seconds:g}",
            ]
        )
        try:
            result = baselines.measure(rates, step_seconds, normal_seconds, command)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"wrote {baselines.write_json(result, root)}")
    for path in baselines.render_all(result, root):
        click.echo(f"wrote {path}")


@bench.command()
@click.option("--rounds", default=5, show_default=True, help="Interleaved rounds per variant.")
@click.option("--duration", default=8, show_default=True, help="Seconds of wrk load per round.")
@click.option("--connections", default=32, show_default=True, help="wrk connections (-c).")
@click.option(
    "--output",
    default="docs/performance/overhead.md",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the Markdown table ('-' for none).",
)
def overhead(rounds: int, duration: int, connections: int, output: str) -> None:
    """Telemetry kit overhead against a bare app and the usual libraries, side by side."""
    from airscope.bench.overhead import run

    run(rounds=rounds, duration=duration, connections=connections, output=None if output == "-" else output)
