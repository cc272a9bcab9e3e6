"""`airscope console`: the local console's housekeeping. `vendor` regenerates its vendored uPlot from
the npm lockfile (airscope.console.vendor); `screenshots` pictures every dashboard for docs/guide.md
(airscope.bench.console drives the browser)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from airscope import checkout
from airscope.bench import console as browser_console
from airscope.cli._types import Duration
from airscope.console import vendor as console_vendor
from airscope.local import api_key, load
from airscope.local.live_check.check import SETTLE_SECONDS


@click.group("console")
def console() -> None:
    """The local console (http://127.0.0.1:3000 under `make up`): its vendored files and screenshots."""


@console.command("vendor")
def vendor_command() -> None:
    """Install uPlot and speedscope from the npm lockfile and copy their files into the console's
    static/vendor/ and static/speedscope/ (each with a MANIFEST.json of their hashes that `make test`
    checks)."""
    manifest = console_vendor.vendor()
    packages = ", ".join(
        f"{package} {version}"
        for package, version in zip(
            manifest["package"].split(", "), manifest["version"].split(", "), strict=True
        )
    )
    click.echo(f"vendored {packages} into {console_vendor.STATIC}")
    for name, digest in sorted(manifest["files"].items()):
        click.echo(f"  {name}  sha256:{digest[:16]}")


@console.command("screenshots")
@click.option(
    "--load",
    "load_seconds",
    type=Duration(positive=False),
    default="60s",
    show_default=True,
    help="First run `airscope load` at its normal rate for this long and one user's chat in a browser "
    "(the frontend's real-user panels), then let Prometheus settle; 0 if a load just ran.",
)
@click.option(
    "--window", default="now-15m", show_default=True, help="The time range's start, in Grafana's grammar."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the images go [default: docs/images of the checkout].",
)
def screenshots_command(load_seconds: float, window: str, out: Path | None) -> None:
    """docs/images/console-<uid>.png of every dashboard as the running console draws it after a
    normal `airscope load` and one user's visit in a browser, each labelled as the local console (docs/guide.md shows them)."""
    base = browser_console.console_url()
    if load_seconds > 0:
        click.echo(f"airscope load for {load_seconds:g} s at {browser_console.NORMAL_RPS:g}/s ...", err=True)
        tally = load.send(load.default_gateway(), api_key.api_key(), browser_console.NORMAL_RPS, load_seconds)
        browser_console.visit_as_a_user(
            browser_console.frontend_url(), progress=lambda line: click.echo(line, err=True)
        )
        click.echo(f"sent {tally.sent} requests; letting Prometheus settle ({SETTLE_SECONDS} s)", err=True)
        time.sleep(SETTLE_SECONDS)
    out = out or checkout.root() / "docs" / "images"
    taken = browser_console.screenshots(base, out, window, progress=lambda line: click.echo(line, err=True))
    click.echo(f"{len(taken)} screenshots in {out}")
