"""`airscope fuzz`: the command over airscope.local.fuzz."""

from __future__ import annotations

import json
import sys
import time

import click

from airscope import catalog
from airscope.local import fuzz


@click.command("fuzz")
@click.option(
    "--examples",
    default=fuzz.DEFAULT_EXAMPLES,
    show_default=True,
    type=click.IntRange(min=1),
    help="Generated requests per operation, per mode (valid and invalid data).",
)
@click.option(
    "--service",
    "only",
    multiple=True,
    type=click.Choice(sorted(catalog.load().services)),
    help="Fuzz only this service (repeatable) [default: all eight].",
)
@click.option(
    "--seed",
    default=fuzz.DEFAULT_SEED,
    show_default=True,
    type=int,
    help="Hypothesis' seed: the same seed sends the same requests.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def fuzz_command(examples: int, only: tuple[str, ...], seed: int, as_json: bool) -> None:
    """Schemathesis against every service's OpenAPI document on the running platform (`make up`):
    no 5xx, no crash, answers as documented. Exits 1 when it found a failure."""
    began = time.monotonic()
    reports = [
        fuzz.fuzz(target, examples=examples, seed=seed, progress=lambda line: click.echo(line, err=True))
        for target in fuzz.platform_targets(only)
    ]
    elapsed = time.monotonic() - began
    if as_json:
        found = {
            "seed": seed,
            "examples": examples,
            "elapsed_seconds": round(elapsed, 1),
            "reports": [r.as_json() for r in reports],
        }
        click.echo(json.dumps(found, indent=2))
    else:
        click.echo(fuzz.render(reports, elapsed))
    if any(report.failures for report in reports):
        sys.exit(1)
