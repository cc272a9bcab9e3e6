"""`airscope silence add|list|expire`: Alertmanager silences, locally or against production's
Alertmanager (airscope.local.silences does the work)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import Any

import click

from airscope.cli._types import Duration
from airscope.local import alertmanager_api, silences
from airscope.promapi import Matcher


class MatcherType(click.ParamType):
    """``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``."""

    name = "matcher"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Matcher:
        if isinstance(value, Matcher):
            return value
        try:
            return silences.parse_matcher(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _url_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--alertmanager-url",
        envvar=alertmanager_api.URL_ENV,
        default=None,
        help=f"The Alertmanager to ask [default: ${alertmanager_api.URL_ENV}, else the local one].",
    )(command)


def _user() -> str:
    # getpass reads $LOGNAME, $USER, $LNAME and $USERNAME before the password database.
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database (a bare container)
        return ""


@click.group("silence")
def silence() -> None:
    """Mute an alert's notifications for a while (it still fires, shows and inhibits)."""


@silence.command("add")
@click.argument("matchers", nargs=-1, required=True, type=MatcherType())
@click.option(
    "--duration",
    type=Duration(),
    required=True,
    help="How long from now, e.g. 1h or 30m: until soon after the fix is expected.",
)
@click.option(
    "--comment", default="", help="Why: the incident or the planned work (required; shown to everyone)."
)
@click.option("--author", default=None, help="Who silences [default: $USER].")
@_url_option
def silence_add(
    matchers: tuple[Matcher, ...],
    duration: float,
    comment: str,
    author: str | None,
    alertmanager_url: str | None,
) -> None:
    """Silence the alerts every MATCHER matches: name=value, name!=value, name=~regex, name!~regex.

    \b
    airscope silence add alertname=HighLatency service=llm-orchestrator --duration 1h \\
        --comment "inc-20260301-llm: provider slow, mitigating"

    Prints the silence's id (`airscope silence expire ID` ends it early)."""
    with alertmanager_api.connect(alertmanager_url) as client:
        silence_id = silences.add(
            client, matchers, duration, comment, author if author is not None else _user()
        )
    click.echo(silence_id)


@silence.command("list")
@click.option("--all", "every", is_flag=True, help="Expired silences too.")
@click.option("--json", "as_json", is_flag=True, help="Print the silences as JSON.")
@_url_option
def silence_list(every: bool, as_json: bool, alertmanager_url: str | None) -> None:
    """The active and pending silences: id, matchers, when they end, author, comment."""
    with alertmanager_api.connect(alertmanager_url) as client:
        found = silences.current(client, every)
    if as_json:
        click.echo(json.dumps([silences.as_json(s) for s in found], indent=2))
    else:
        click.echo(silences.render(found, every))


@silence.command("expire")
@click.argument("silence_ids", metavar="ID...", nargs=-1, required=True)
@_url_option
def silence_expire(silence_ids: tuple[str, ...], alertmanager_url: str | None) -> None:
    """End silences now (`airscope silence list` shows their ids); their alerts notify again."""
    with alertmanager_api.connect(alertmanager_url) as client:
        outcome = silences.expire(client, silence_ids)
    for silence_id, problem in outcome.items():
        if problem is None:
            click.echo(f"expired {silence_id}")
        else:
            click.echo(f"cannot expire {silence_id}: {problem}", err=True)
    if any(problem is not None for problem in outcome.values()):
        raise SystemExit(1)
