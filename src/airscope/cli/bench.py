"""`airscope bench` and its subcommands, and `airscope soak`: measurements of the running platform."""

from __future__ import annotations

import click

from airscope.bench.soak import soak_command  # noqa: F401  (moves here with the bench's click code)
from airscope.cli._lazy import LazyGroup


def _rates(value: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of rates such as 5,10,20") from None
    if not rates or any(rate <= 0 for rate in rates) or list(rates) != sorted(rates):
        raise click.BadParameter(f"{value!r}: give rising rates above 0, such as 5,10,20")
    return rates


@click.group(
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

    from airscope import checkout
    from airscope.bench import baselines

    root = checkout.root()
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
