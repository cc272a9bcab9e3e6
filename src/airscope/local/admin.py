"""The platform's clean-up routes, as `airscope sagas`, `airscope jobs` and `airscope users` use them.

Every call goes through the api-gateway's operators' routes (``/api/admin/...``) with the API key:
the gateway forwards them to saga-orchestrator, automation-services and platform-services, and
refuses a user's sign-in token there. The gateway is the local one unless ``$AIRSCOPE_GATEWAY_URL``
(or ``--gateway-url``) names another, so the same commands clean up production with its key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from airscope import tables
from airscope.errors import AirscopeError
from airscope.local.load import default_gateway as local_gateway
from airscope.local.settings import GATEWAY_URL_ENV, OperatorSettings

QUEUES = ("imports", "runs")
# A compensation runs its retries with back-off; the saga-orchestrator waits up to 30 s for them.
TIMEOUT_SECONDS = 40.0


def default_gateway() -> str:
    return OperatorSettings.from_env().gateway_url or local_gateway()


def _segment(value: str) -> str:
    return quote(value, safe="")


class Admin:
    """One operator's calls to the admin routes of the gateway at ``gateway_url``."""

    def __init__(self, gateway_url: str, api_key: str, transport: httpx.BaseTransport | None = None) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.gateway_url + "/api/admin",
            headers={"X-API-Key": api_key},
            timeout=TIMEOUT_SECONDS,
            transport=transport,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise AirscopeError(
                f"cannot reach the api-gateway at {self.gateway_url} ({type(exc).__name__}): is the platform "
                f"up (`airscope status`)? Another gateway: --gateway-url or ${GATEWAY_URL_ENV}"
            ) from None
        if answer.status_code >= 400:
            raise AirscopeError(
                f"{method} /api/admin{path} answered {answer.status_code}: {_message(answer)}"
            )
        return answer

    # -- sagas ------------------------------------------------------------------------------------

    def sagas(self, status: str = "failed", limit: int = 100) -> list[dict[str, Any]]:
        return self._call("GET", "/sagas", params={"status": status, "limit": limit}).json()["sagas"]

    def saga(self, saga_id: str) -> dict[str, Any]:
        return self._call("GET", f"/sagas/{_segment(saga_id)}").json()

    def compensate(self, saga_id: str) -> dict[str, Any]:
        """Runs the failed saga's failed compensations again; the saga as it is after up to 30 s."""
        return self._call("POST", f"/sagas/{_segment(saga_id)}/compensate").json()

    def close(self, saga_id: str, note: str) -> dict[str, Any]:
        return self._call("POST", f"/sagas/{_segment(saga_id)}/close", json={"note": note}).json()

    # -- dead-lettered jobs -----------------------------------------------------------------------

    def jobs(self, queue: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/jobs", params={"queue": queue} if queue else {}).json()["jobs"]

    def queue_of(self, job_id: str) -> str:
        """The queue holding the dead letter of ``job_id``."""
        for job in self.jobs():
            if job["id"] == job_id:
                return job["queue"]
        raise AirscopeError(f"no dead-lettered job {job_id}: `airscope jobs list` shows them")

    def replay(self, queue: str, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/jobs/{_segment(queue)}/{_segment(job_id)}/replay").json()

    def discard(self, queue: str, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/jobs/{_segment(queue)}/{_segment(job_id)}").json()

    # -- users ------------------------------------------------------------------------------------

    def revoke_tokens(self, email: str) -> dict[str, Any]:
        return self._call("POST", "/users/revoke-tokens", json={"email": email}).json()


def _message(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300] or answer.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return answer.text[:300]


# -- what the commands print ---------------------------------------------------------------------


def _left_to_undo(saga: dict[str, Any]) -> str:
    return ", ".join(step["name"] for step in saga["steps"] if step["status"] == "compensation_failed") or "-"


def render_sagas(sagas: list[dict[str, Any]], status: str) -> str:
    if not sagas:
        return f"no {status} saga"
    rows = [
        (
            saga["id"],
            saga["saga"],
            saga["status"],
            saga["created_at"][:19],
            _left_to_undo(saga),
            saga["error"] or "",
        )
        for saga in sagas
    ]
    return tables.text(("id", "saga", "status", "created", "undo failed", "error"), rows, width=160)


def render_saga(saga: dict[str, Any]) -> str:
    lines = [
        f"saga {saga['id']} ({saga['saga']}): {saga['status']}",
        f"created {saga['created_at']}, finished {saga['finished_at'] or '-'}",
        f"input {saga['input']}",
    ]
    if saga.get("reopened_at"):
        lines.append(f"compensated again by an operator at {saga['reopened_at']}")
    if saga.get("note"):
        lines.append(f"note: {saga['note']}")
    if saga["error"]:
        lines.append(f"error: {saga['error']}")
    rows = [
        (
            step["name"],
            step["status"],
            step["attempts"],
            step["compensation_attempts"],
            step["result"] if step["result"] is not None else "-",
            step["error"] or "",
        )
        for step in saga["steps"]
    ]
    header = ("step", "status", "attempts", "undo attempts", "result", "error")
    lines += ["", tables.text(header, rows, align="llrrll", width=160)]
    if saga["status"] == "failed":
        lines += [
            "",
            "A compensation_failed step's result is what is left behind. Once its cause is fixed:",
            f"  airscope sagas compensate {saga['id']}",
            f'or, after undoing it by hand: airscope sagas close {saga["id"]} --note "what was done"',
        ]
    return "\n".join(lines)


def render_jobs(jobs: list[dict[str, Any]]) -> str:
    if not jobs:
        return "no dead-lettered job"
    rows = [
        (
            job["queue"],
            job["id"],
            job["attempts"],
            job["enqueued_at"][:19],
            job["status"],
            job["about"] or "-",
            job["error"] or "",
        )
        for job in jobs
    ]
    return tables.text(
        ("queue", "id", "attempts", "enqueued", "status", "about", "error"), rows, align="llrllll", width=160
    )
