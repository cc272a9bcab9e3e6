"""What every ``/v0`` route shares: the token check, the per-base rate limit, the store, and the
table or records a request names (404 in Airtable's shapes when they do not exist)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Request

from airscope.standins.airtable.errors import AirtableError, error, not_found
from airscope.standins.airtable.model import Table
from airscope.standins.airtable.store import Store

Payload = Annotated[dict[str, Any], Body()]


async def _store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(_store)]


async def authenticated(request: Request) -> None:
    token = request.app.state.settings.token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip() or token not in (None, given.strip()):
        raise error(401, "AUTHENTICATION_REQUIRED", "Authentication required")


async def rate_limited(request: Request) -> None:
    base_id = request.path_params.get("base_id")
    if base_id and (retry_after := request.app.state.limiter.acquire(base_id)) is not None:
        raise AirtableError(
            429,
            {
                "errors": [
                    {"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}
                ]
            },
            {"Retry-After": str(retry_after)},
        )


def table_of(store: Store, base_id: str, table_id_or_name: str) -> Table:
    if not store.has_base(base_id):
        raise not_found()
    table = store.table(base_id, table_id_or_name)
    if table is None:
        raise error(
            404, "TABLE_NOT_FOUND", f'Could not find table "{table_id_or_name}" in application {base_id}'
        )
    return table


def existing(store: Store, table: Table, record_ids: list[str]) -> None:
    if missing := store.missing(table, record_ids):
        raise error(404, "MODEL_ID_NOT_FOUND", f'Could not find a record with ID "{missing[0]}".')
