"""`airscope up`, `down`, `status`, `stop`, `start`, `scale` and `alerts` (and `alerts test`): the local
platform's controls."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import click

from airscope import catalog
from airscope.cli._types import Duration
from airscope.local import alert_receiver, alertmanager_api, control, notify, runner
from airscope.local import status as local_status
from airscope.units import format_duration

NOTIFICATIONS_SHOWN = 20  # the newest; `--json` gives them all


@click.command()
def up() -> None:
    """Start the local platform (PostgreSQL, Redis, every service that exists) and wait until healthy."""
    runner.up()


@click.command()
def down() -> None:
    """Stop everything `airscope up` started. Data stays under var/ (or $AIRSCOPE_HOME)."""
    runner.down()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--watch", is_flag=True, help="Refresh every 2 seconds until Ctrl-C.")
def status(as_json: bool, watch: bool) -> None:
    """Every service instance: health, up, requests/s, error %, p95, firing alerts.
    Exits 0 only when all is healthy."""
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


@click.command()
@click.argument("name")
def stop(name: str) -> None:
    """Stop a service (every instance) or another program (redis, prometheus...); it stays stopped
    until `airscope start NAME`."""
    click.echo(f"stopped: {', '.join(control.stop(name))}")


@click.command()
@click.argument("name")
def start(name: str) -> None:
    """Start what `airscope stop NAME` stopped, and wait until it is ready."""
    click.echo(f"started: {', '.join(control.start(name))}")


@click.command()
@click.argument("service")
@click.argument("count", type=int)
def scale(service: str, count: int) -> None:
    """Run COUNT instances of SERVICE on free ports; Prometheus finds them through file_sd."""
    instances = control.scale(service, count)
    for program, port in instances.items():
        click.echo(f"{program:<28} http://127.0.0.1:{port}")
    seconds = control.wait_discovered(service, set(instances))
    click.echo(
        f"Prometheus scrapes all {len(instances)} instance(s) of {service}, {seconds:.1f}s after the change"
    )


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the alerts and notifications as JSON.")
@click.pass_context
def alerts(ctx: click.Context, as_json: bool) -> None:
    """Firing alerts (Alertmanager) and the notifications the local receiver got, each with its
    service, severity, owner and since when it fires; `alerts test` proves a receiver's route."""
    if ctx.invoked_subcommand is not None:
        return
    found = local_status.alerts()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for line in local_status.render_pipeline(found["alert_pipeline"]):
        click.echo(line)
    if found["alertmanager_error"]:
        click.echo(found["alertmanager_error"])
    now = datetime.now(UTC)
    for alert in found["firing"]:
        click.echo(local_status.firing_line(alert, now))
    if not found["firing"]:
        click.echo("no alert is firing")
    click.echo(f"{len(found['notifications'])} notification(s) received:")
    for kept in found["notifications"][-NOTIFICATIONS_SHOWN:]:
        for line in local_status.notification_lines(kept, now):
            click.echo(line)


@alerts.command("test")
@click.option(
    "--receiver",
    required=True,
    help="The receiver to prove, e.g. ai-team-pager or infra-chat (docs/on-call.md lists them).",
)
@click.option(
    "--alertmanager-url",
    envvar=alertmanager_api.URL_ENV,
    default=None,
    help=f"The Alertmanager to post to [default: ${alertmanager_api.URL_ENV}, else the local one].",
)
@click.option(
    "--timeout",
    type=Duration(),
    default="30s",
    show_default=True,
    help="Locally: how long to wait for the local receiver to get it.",
)
def alerts_test(receiver: str, alertmanager_url: str | None, timeout: float) -> None:
    """Prove a receiver's route with a test notification.

    Posts a synthetic AirscopeTestNotification labelled with the receiver's team (owner) and severity.
    Locally, waits until the local receiver got it on the receiver (and on no receiver its routes do
    not name), then resolves it; against another Alertmanager, posts it (it resolves itself after 5
    minutes): check the channel."""
    probe = notify.probe(catalog.load(), receiver)
    url = (alertmanager_url or alertmanager_api.default_url()).rstrip("/")
    local = url == alertmanager_api.local_url()
    with alertmanager_api.connect(url) as client:
        if not local:
            ends_at = notify.post(client, probe)
            click.echo(
                f"posted {probe.describe_labels()} to {url}: the routes send it to "
                f"{', '.join(probe.expected)}. Check the channel (and PagerDuty for a pager); it "
                f"resolves itself at {ends_at:%H:%M:%S}Z."
            )
            return
        notify.wait_arrivals(client, probe, alert_receiver.notifications_file(), timeout)
    for name, seconds in probe.arrived.items():
        click.echo(f"{probe.describe_labels()} reached {name} after {seconds}s")
    if probe.missing:
        click.echo(f"NOT received on {', '.join(probe.missing)} within {format_duration(timeout)}")
    if probe.unexpected:
        click.echo(f"ALSO received on {', '.join(probe.unexpected)}, which its routes do not name")
    if not probe.proven:
        raise SystemExit(1)
    also = [name for name in probe.expected if name != receiver]
    copy = f" (and {', '.join(also)}: a page's copy goes to the team's chat)" if also else ""
    click.echo(f"route proven: {receiver}{copy}, no other receiver; resolved")
