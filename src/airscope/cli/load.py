"""`airscope load`: realistic mixed traffic through the gateway (airscope.local.load does the work)."""

from __future__ import annotations

import json

import click

from airscope.cli._types import Duration
from airscope.local import load
from airscope.local.api_key import api_key


@click.command("load")
@click.option(
    "--rps",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Actions started per second (open loop; some actions send two requests).",
)
@click.option(
    "--duration", type=Duration(), default="60s", show_default=True, help="How long: 30s, 2m, 90..."
)
@click.option(
    "--seed", type=int, default=None, help="Plan the same actions again (default: a random seed, printed)."
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Actions running at once; one due beyond that is skipped and counted.",
)
@click.option(
    "--gateway",
    default=None,
    help="The api-gateway's URL [default: http://127.0.0.1:$AIRSCOPE_PORT_API_GATEWAY or 7000].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def load_command(
    rps: float, duration: float, seed: int | None, max_in_flight: int, gateway: str | None, as_json: bool
) -> None:
    """Realistic mixed traffic through the gateway (chat, Airtable records, auth, uploads, sagas,
    health), then exactly what was sent: counts per method, route and status, and latency per route."""
    settings = load.Settings(
        gateway=(gateway or load.default_gateway()).rstrip("/"),
        api_key=api_key(),
        rps=rps,
        duration=duration,
        seed=seed if seed is not None else load.random_seed(),
        max_in_flight=max_in_flight,
    )
    summary = load.summarized(settings)
    click.echo(json.dumps(summary, indent=2) if as_json else load.render(summary))
