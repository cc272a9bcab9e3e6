"""The onboarding saga: a workspace, its Airtable table and its record-count workflow, or none of them.

Steps, each an HTTP call carrying ``Idempotency-Key: <saga id>:<step>`` (so a retried or resumed
step answers what its first attempt did instead of doing it twice):

1. ``create_workspace``: platform-services ``POST /workspaces``; undone by ``DELETE /workspaces/{id}``
   (a soft delete).
2. ``create_tables``: airtable-gateway ``POST /bases/{base_id}/tables`` for "<workspace> Tasks".
   Airtable's API has no way to delete a table, so it is undone by renaming it
   ``[archived] <name>`` (``PATCH /bases/{base_id}/tables/{id}``); a person may delete it in
   Airtable's UI. When that name is taken (an earlier onboarding of the same name was undone too),
   the saga id's first eight characters make it unique.
3. ``register_workflow``: automation-services ``POST /workflows`` of kind ``record-count`` for the
   workspace; undone by ``DELETE /workflows/{id}``.

A 404 while undoing means the thing is gone already: nothing is left to undo.
"""

from __future__ import annotations

from typing import Any

import httpx

from airscope.services.saga_orchestrator.engine import SagaDefinition, Step, StepContext

NAME = "onboarding"
DEFAULT_BASE_ID = "appAirscopeDemo01"
ARCHIVED_PREFIX = "[archived] "
WORKFLOW_SUFFIX = " record count"
MAX_NAME_CHARS = 100
TASK_FIELDS = [
    {"name": "Task", "type": "singleLineText"},
    {
        "name": "Status",
        "type": "singleSelect",
        "options": {"choices": [{"name": "Todo"}, {"name": "Doing"}, {"name": "Done"}]},
    },
    {"name": "Due", "type": "date", "options": {"dateFormat": {"name": "iso"}}},
    {"name": "Notes", "type": "multilineText"},
]


def table_name(workspace_name: str) -> str:
    return f"{workspace_name} Tasks"


def workflow_name(workspace_name: str) -> str:
    # automation-services takes names of up to 100 characters; a workspace name may have 100 itself.
    return f"{workspace_name[: MAX_NAME_CHARS - len(WORKFLOW_SUFFIX)]}{WORKFLOW_SUFFIX}"


def definition(
    client: httpx.AsyncClient, *, platform_url: str, airtable_gateway_url: str, automation_url: str
) -> SagaDefinition:
    """The saga, its steps calling the services at these URLs through one shared client."""

    def keyed(context: StepContext) -> dict[str, str]:
        return {"Idempotency-Key": context.idempotency_key}

    async def create_workspace(context: StepContext) -> dict[str, Any]:
        body = {"name": context.input["workspace_name"]}
        if context.input.get("owner"):
            body["owner"] = context.input["owner"]
        response = await client.post(f"{platform_url}/workspaces", json=body, headers=keyed(context))
        workspace = response.raise_for_status().json()
        return {"workspace_id": str(workspace["id"]), "name": workspace["name"]}

    async def delete_workspace(context: StepContext, result: dict[str, Any]) -> None:
        response = await client.delete(f"{platform_url}/workspaces/{result['workspace_id']}")
        _gone_is_undone(response)

    async def create_tables(context: StepContext) -> dict[str, Any]:
        workspace_id = context.results["create_workspace"]["workspace_id"]
        base_id = context.input["base_id"]
        body = {
            "name": table_name(context.input["workspace_name"]),
            "description": f"Tasks of workspace {workspace_id} (onboarding saga {context.saga_id})",
            "fields": TASK_FIELDS,
        }
        response = await client.post(
            f"{airtable_gateway_url}/bases/{base_id}/tables", json=body, headers=keyed(context)
        )
        table = response.raise_for_status().json()
        return {"base_id": base_id, "table_id": table["id"], "table_name": table["name"]}

    async def archive_table(context: StepContext, result: dict[str, Any]) -> None:
        url = f"{airtable_gateway_url}/bases/{result['base_id']}/tables/{result['table_id']}"
        archived = ARCHIVED_PREFIX + result["table_name"]
        response = await client.patch(url, json={"name": archived})
        if response.status_code == 409:
            response = await client.patch(url, json={"name": f"{archived} ({context.saga_id[:8]})"})
        _gone_is_undone(response)

    async def register_workflow(context: StepContext) -> dict[str, Any]:
        workspace_id = context.results["create_workspace"]["workspace_id"]
        body = {
            "name": workflow_name(context.input["workspace_name"]),
            "kind": "record-count",
            "workspace_id": workspace_id,
            "config": {
                "base_id": context.input["base_id"],
                "table_id": context.results["create_tables"]["table_id"],
            },
        }
        response = await client.post(f"{automation_url}/workflows", json=body, headers=keyed(context))
        return {"workflow_id": str(response.raise_for_status().json()["id"])}

    async def delete_workflow(context: StepContext, result: dict[str, Any]) -> None:
        response = await client.delete(f"{automation_url}/workflows/{result['workflow_id']}")
        _gone_is_undone(response)

    return SagaDefinition(
        NAME,
        (
            Step("create_workspace", create_workspace, delete_workspace),
            Step("create_tables", create_tables, archive_table),
            Step("register_workflow", register_workflow, delete_workflow),
        ),
    )


def _gone_is_undone(response: httpx.Response) -> None:
    if response.status_code != 404:
        response.raise_for_status()
