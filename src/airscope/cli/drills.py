"""`airscope drill` and `airscope train`: the commands over airscope.local.drills."""

from __future__ import annotations

import json
import sys

import click

from airscope.cli._types import Duration
from airscope.local.drills import report, scenarios, training
from airscope.local.drills.faults import Target
from airscope.local.drills.run import quiet, render, render_quiet, run


@click.command("drill")
@click.argument("scenario", type=click.Choice([*scenarios.scenarios(), "all", "quiet"]))
@click.option(
    "--service",
    default=scenarios.DEFAULT_SERVICE,
    show_default=True,
    help="The service service-down stops and memory fills.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--duration",
    type=Duration(),
    default="5m",
    show_default=True,
    help="With `quiet`: how long the load runs.",
)
@click.option(
    "--rps", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True, help="With `quiet`."
)
@click.option(
    "--write-docs/--no-write-docs",
    default=True,
    show_default=True,
    help="With `all`: write the measured times into docs/alerting.md.",
)
def drill_command(
    scenario: str, service: str, as_json: bool, duration: float, rps: float, write_docs: bool
) -> None:
    """Inject a fault into the local platform, wait for its alert, heal it, wait for the resolved
    notification; exit 1 when an alert is late, missing or unexpected. `all` runs every drill;
    `quiet` runs normal load and fails if anything fires."""
    known = scenarios.scenarios(service)
    target = Target.current()
    if service not in target.plat.catalog.services:
        raise click.BadParameter(f"{service!r} is not a catalog service", param_hint="--service")
    if scenario == "quiet":
        outcome = quiet(target, duration, rps)
        click.echo(json.dumps(outcome.as_json(), indent=2) if as_json else render_quiet(outcome))
        sys.exit(0 if outcome.passed else 1)
    chosen = list(known.values()) if scenario == "all" else [known[scenario]]
    results = [run(s, target) for s in chosen]
    if as_json:
        click.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        click.echo("\n\n".join(render(r) for r in results))
    if scenario == "all" and write_docs:
        path = report.write(results)
        click.echo(f"\nmeasured times written to {path}", err=True)
    if not all(r.passed for r in results):
        sys.exit(1)


@click.group("train")
def train_command() -> None:
    """Blind drills: a fault you are not told, a page, and a check of the cause you find
    (docs/training/)."""


@train_command.command("start")
@click.argument("pool", nargs=-1, type=click.Choice(list(scenarios.scenarios())))
@click.option("--faults", default=1, show_default=True, type=click.IntRange(min=1), help="How many at once.")
@click.option("--seed", type=int, help="Pick the same faults again (default: random, kept secret).")
@click.option(
    "--service", help="The service service-down stops and memory fills (default: any, and mcp-server)."
)
def start_command(pool: tuple[str, ...], faults: int, seed: int | None, service: str | None) -> None:
    """Inject FAULTS of the drill scenarios POOL (default: all) at random, without saying which."""
    target = Target.current()
    if service is not None and service not in training.services():
        raise click.BadParameter(f"{service!r} is not a service of the tree", param_hint="--service")
    already = training.already_active(target)
    training.start(target, list(pool or scenarios.scenarios()), bool(pool), faults, seed, service)
    if already:
        click.echo(f"active before the fault, not part of it: {', '.join(already)}")
    click.echo(
        f"{'a fault is' if faults == 1 else f'{faults} faults are'} in; you have been paged, see "
        "`airscope alerts`.\nName the cause with `airscope train answer CAUSE` (`airscope train causes` "
        "lists them); `airscope train end` heals and says what it was."
    )


@train_command.command("causes")
def causes_command() -> None:
    """The causes `train answer` knows."""
    click.echo("\n".join(training.causes(training.services())))


@train_command.command("answer")
@click.argument("cause", nargs=-1, required=True)
def answer_command(cause: tuple[str, ...]) -> None:
    """Is CAUSE what was injected? Exit 0 if so, 1 if not (with a hint). CAUSE is one of `train
    causes`, quoted or not: `airscope train answer redis down`."""
    session = training.Session.load()
    verdict = training.answer(session, training.normalize(cause, training.causes(training.services())))
    session.save()
    click.echo(verdict.text)
    if not verdict.right:
        sys.exit(1)


@train_command.command("end")
def end_command() -> None:
    """Heal every fault of the session, stop its traffic, and say what it was."""
    session = training.Session.load()
    ended_at = training.now()
    failed = training.heal(Target.current(), session)
    click.echo(training.score(session, ended_at))
    if failed:
        raise click.ClickException(
            "could not heal: " + "; ".join(failed) + "\n(the session is kept: `airscope train end` again)"
        )
    click.echo("healed; the alerts resolve within about a minute (`airscope alerts`)")
