"""`airscope sagas`, `airscope jobs`, `airscope users`: clean up after an incident through the
api-gateway's operators' routes with the API key (airscope.local.admin does the work)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from airscope.local import admin as admin_api
from airscope.local.api_key import api_key

STATUSES = ("failed", "running", "compensating", "completed", "compensated", "closed")


def _gateway_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--gateway-url",
        envvar=admin_api.GATEWAY_URL_ENV,
        default=None,
        help="The api-gateway to ask [default: $AIRSCOPE_GATEWAY_URL, else the local one]; the key is "
        "$AIRSCOPE_API_KEY, else the local key.",
    )(command)


def _json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")(command)


def _admin(gateway_url: str | None) -> admin_api.Admin:
    return admin_api.Admin(gateway_url or admin_api.default_gateway(), api_key())


def _print(data: object, as_json: bool, render: Callable[[], str]) -> None:
    click.echo(json.dumps(data, indent=2) if as_json else render())


@click.group("sagas")
def sagas() -> None:
    """Failed sagas: list, inspect, compensate again, or close after cleaning up by hand."""


@sagas.command("list")
@click.option("--status", type=click.Choice(STATUSES), default="failed", show_default=True)
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
@_gateway_option
@_json_option
def sagas_list(status: str, limit: int, gateway_url: str | None, as_json: bool) -> None:
    """The sagas with STATUS, newest first (failed: the ones someone must clean up)."""
    found = _admin(gateway_url).sagas(status, limit)
    _print(found, as_json, lambda: admin_api.render_sagas(found, status))


@sagas.command("show")
@click.argument("saga_id")
@_gateway_option
@_json_option
def sagas_show(saga_id: str, gateway_url: str | None, as_json: bool) -> None:
    """A saga, its steps, their results (what a step created) and errors."""
    saga = _admin(gateway_url).saga(saga_id)
    _print(saga, as_json, lambda: admin_api.render_saga(saga))


@sagas.command("compensate")
@click.argument("saga_id")
@_gateway_option
@_json_option
def sagas_compensate(saga_id: str, gateway_url: str | None, as_json: bool) -> None:
    """Run a failed saga's failed compensations again (fix what refused them first)."""
    saga = _admin(gateway_url).compensate(saga_id)
    _print(saga, as_json, lambda: _compensated(saga))


def _compensated(saga: dict[str, Any]) -> str:
    if saga["status"] == "compensated":
        return f"saga {saga['id']}: compensated; nothing is left behind"
    if saga["status"] == "failed":
        return f"saga {saga['id']}: a compensation failed again\n\n{admin_api.render_saga(saga)}"
    return f"saga {saga['id']}: still {saga['status']}; `airscope sagas show {saga['id']}` in a moment"


@sagas.command("close")
@click.argument("saga_id")
@click.option("--note", required=True, help="What was cleaned up by hand, and by whom (kept with the saga).")
@_gateway_option
@_json_option
def sagas_close(saga_id: str, note: str, gateway_url: str | None, as_json: bool) -> None:
    """Close a failed saga whose leftovers were undone by hand."""
    saga = _admin(gateway_url).close(saga_id, note)
    _print(saga, as_json, lambda: f"saga {saga['id']}: closed ({saga['note']})")


@click.group("jobs")
def jobs() -> None:
    """Dead-lettered jobs of automation-services: list, replay, or discard."""


QUEUE = click.option(
    "--queue", type=click.Choice(admin_api.QUEUES), default=None, help="Only this queue [default: both]."
)


@jobs.command("list")
@QUEUE
@_gateway_option
@_json_option
def jobs_list(queue: str | None, gateway_url: str | None, as_json: bool) -> None:
    """The dead-lettered jobs, newest first, with their file or run and why they were given up."""
    found = _admin(gateway_url).jobs(queue)
    _print(found, as_json, lambda: admin_api.render_jobs(found))


def _handle(
    action: str,
    job_ids: tuple[str, ...],
    every: bool,
    queue: str | None,
    gateway_url: str | None,
    as_json: bool,
) -> None:
    client = _admin(gateway_url)
    if every == bool(job_ids):
        raise click.UsageError("name the jobs (JOB_ID...) or give --all, not both")
    targets = (
        [(job["queue"], job["id"]) for job in client.jobs(queue)]
        if every
        else [(queue or client.queue_of(job_id), job_id) for job_id in job_ids]
    )
    handled = [getattr(client, action)(target_queue, job_id) for target_queue, job_id in targets]
    verb = {"replay": "replayed", "discard": "discarded"}[action]
    lines = [f"{job['queue']} {job['id']}: {verb} ({job['about'] or 'unknown'})" for job in handled]
    _print(handled, as_json, lambda: "\n".join(lines) or "no dead-lettered job")


@jobs.command("replay")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every dead-lettered job (of --queue).")
@QUEUE
@_gateway_option
@_json_option
def jobs_replay(
    job_ids: tuple[str, ...], every: bool, queue: str | None, gateway_url: str | None, as_json: bool
) -> None:
    """Queue dead-lettered jobs again (fix their cause first): a file resumes after its last
    imported batch, a run starts again."""
    _handle("replay", job_ids, every, queue, gateway_url, as_json)


@jobs.command("discard")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every dead-lettered job (of --queue).")
@QUEUE
@_gateway_option
@_json_option
def jobs_discard(
    job_ids: tuple[str, ...], every: bool, queue: str | None, gateway_url: str | None, as_json: bool
) -> None:
    """Drop dead-lettered jobs; their files or runs stay failed (the user uploads again)."""
    _handle("discard", job_ids, every, queue, gateway_url, as_json)


@click.group("users")
def users() -> None:
    """User accounts: revoke a user's sign-ins after a possible takeover."""


@users.command("revoke-tokens")
@click.argument("email")
@_gateway_option
@_json_option
def users_revoke_tokens(email: str, gateway_url: str | None, as_json: bool) -> None:
    """End every login of the account EMAIL: its refresh tokens are revoked, its access tokens
    expire within their lifetime (15 minutes by default)."""
    revoked = _admin(gateway_url).revoke_tokens(email)
    _print(
        revoked,
        as_json,
        lambda: (
            f"{revoked['email']} ({revoked['user_id']}): {revoked['revoked']} refresh token(s) revoked; "
            f"access tokens already issued expire within {revoked['access_tokens_expire_within_seconds']} s"
        ),
    )
