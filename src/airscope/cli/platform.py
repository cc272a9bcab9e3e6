"""`airscope up`, `down`, `status`, `stop`, `start`, `scale` and `alerts`: the local platform's controls."""

from __future__ import annotations

import json
import time

import click

from airscope.local import control, runner
from airscope.local import status as local_status


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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the alerts and notifications as JSON.")
def alerts(as_json: bool) -> None:
    """Firing alerts (Alertmanager) and the notifications the local receiver got."""
    found = local_status.alerts()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for line in local_status.render_pipeline(found["alert_pipeline"]):
        click.echo(line)
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
