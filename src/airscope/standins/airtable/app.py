"""Airtable's REST API (the paths of api.airtable.com/v0) over the SQLite store, as Airtable's own
clients read it: pyairtable runs against it in ``tests/standins/test_airtable_contract.py``.

Environment:

- ``STANDIN_AIRTABLE_DB``: the SQLite file (default ``$AIRSCOPE_HOME/data/standins/airtable.sqlite``
  when ``AIRSCOPE_HOME`` is set, else a file in a temporary directory removed at exit); seeded with
  the demo and load bases (see ``seed``) when new, and given the seed bases it lacks when older.
- ``STANDIN_AIRTABLE_RATE_LIMIT``: requests per second per base before 429 (default 5, as Airtable;
  0 turns the limit off).
- ``STANDIN_AIRTABLE_TOKEN``: when set, the only bearer token accepted; else any bearer token is.
- ``STANDIN_LATENCY_MS``: base latency of every API request (see ``airscope.standins.faults``).

Meta API: ``GET /v0/meta/whoami``; ``GET /v0/meta/bases`` (pages of 1,000 with ``offset``);
``GET /v0/meta/bases/{baseId}/tables`` (``include[]=visibleFieldIds`` adds them to the views). A
table answers ``id``, ``name``, ``description`` (when not empty), ``primaryFieldId``, ``fields`` (their
``options`` completed as Airtable answers them: choice IDs and colors, precisions, date formats; see
``store.field_options``) and ``views``: every table has one, ``{"id": "viw...", "name": "Grid view",
"type": "grid"}``. Tables are created with ``POST /v0/meta/bases/{baseId}/tables`` ``{"name",
"description"?, "fields": [{"name", "type", "options"?}]}`` (the first field is the primary one) and
renamed or re-described with ``PATCH /v0/meta/bases/{baseId}/tables/{tableIdOrName}`` ``{"name"?,
"description"?}``; both answer the table. ``POST .../tables/{tableIdOrName}/fields`` ``{"name", "type",
"options"?}`` adds a field at the end (its description is not kept) and answers it. Like Airtable's,
the API has no way to delete a table.

Records: ``GET /v0/{baseId}/{tableIdOrName}`` with ``pageSize`` (at most 100), ``offset``,
``maxRecords``, ``filterByFormula`` (the subset of ``formula``), ``sort[i][field|direction]``,
``fields[]`` (names or IDs), ``view`` (the grid view, by name or ID), ``cellFormat`` (``json``, or
``string`` with ``timeZone`` and ``userLocale``) and ``returnFieldsByFieldId``; ``POST
/v0/{baseId}/{tableIdOrName}/listRecords`` takes the same as a JSON body (``sort`` as
``[{"field", "direction"}]``, ``fields`` as a list), which clients use when the URL would be too long.
``GET .../{recordId}``; ``POST`` one (``{"fields"}``) or up to 10 (``{"records"}``); ``PATCH``/``PUT``
one or up to 10, and up to 10 with ``performUpsert: {"fieldsToMergeOn"}``; ``DELETE`` one or up to 10
(``records[]``). Writes take ``typecast`` (text to numbers and back, and a new single-select choice is
added to the field) and ``returnFieldsByFieldId``.

Admin (dev tooling beside ``/_admin/faults``: no token, no rate limit, no faults):
``POST /_admin/bases/{baseId}/grow`` ``{"tables": 0..500, "records_per_table": 0..1000}`` adds the
tables "Grown 001" .. "Grown <tables>" the base lacks (a name already there is skipped, so the same
call twice adds nothing), each with Item, Notes, Amount, Status and Due and ``records_per_table``
deterministic records (``seed.grown_row``), in one transaction; answers 200 ``{"tables_created",
"records_created", "tables"}`` (tables in the base now), 404 for an unknown base.

Errors have Airtable's shapes: 401 ``AUTHENTICATION_REQUIRED``; 404 ``{"error": "NOT_FOUND"}`` (unknown
base, route or record) or ``{"error": {"type": "TABLE_NOT_FOUND" | "MODEL_ID_NOT_FOUND", "message"}}``;
422 ``{"error": {"type": "INVALID_REQUEST_UNKNOWN" | "UNKNOWN_FIELD_NAME" | "INVALID_VALUE_FOR_COLUMN" |
"INVALID_FILTER_BY_FORMULA" | "INVALID_RECORDS" | "LIST_RECORDS_ITERATOR_NOT_AVAILABLE" |
"INVALID_OFFSET_VALUE" | "VIEW_NAME_NOT_FOUND" | "DUPLICATE_TABLE_NAME" | "INVALID_FIELD_TYPE" |
"INVALID_FIELD_TYPE_OPTIONS" | "DUPLICATE_OR_EMPTY_FIELD_NAME", "message"}}``; 429 ``{"errors":
[{"error": "RATE_LIMIT_REACHED", "message"}]}`` with ``Retry-After`` (whole seconds, which
pyairtable's retry honours).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, ConfigDict, StrictInt
from pydantic import Field as PydanticField

from airscope.standins.airtable import meta, records
from airscope.standins.airtable.access import StoreDep, authenticated, rate_limited
from airscope.standins.airtable.errors import fault_body, install_error_handlers, not_found
from airscope.standins.airtable.ratelimit import RateLimiter
from airscope.standins.airtable.store import Store
from airscope.standins.faults import ADMIN_PREFIX, install_faults
from airscope.standins.settings import AirtableSettings, load, refuse_production

MAX_GROW_TABLES = 500
MAX_GROW_RECORDS = 1000


class Grow(BaseModel):
    """``POST /_admin/bases/{baseId}/grow``: make the base big (tests, drills)."""

    model_config = ConfigDict(extra="forbid")

    tables: StrictInt = PydanticField(ge=0, le=MAX_GROW_TABLES)
    records_per_table: StrictInt = PydanticField(ge=0, le=MAX_GROW_RECORDS)


admin = APIRouter(prefix=ADMIN_PREFIX)


@admin.post("/bases/{base_id}/grow")
def grow(base_id: str, body: Grow, store: StoreDep) -> dict[str, int]:
    # Dev tooling like /_admin/faults: no token, no rate limit, no faults (the middleware skips /_admin).
    if not store.has_base(base_id):
        raise not_found()
    tables_created, records_created, tables = store.grow(base_id, body.tables, body.records_per_table)
    return {"tables_created": tables_created, "records_created": records_created, "tables": tables}


def create_app() -> FastAPI:
    refuse_production()
    settings = load(AirtableSettings)
    app = FastAPI(title="Airtable stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    db_path = settings.db_path
    if db_path is None:
        scratch = tempfile.TemporaryDirectory(prefix="airscope-airtable-standin-")
        app.state.scratch = scratch  # kept alive with the app; removed at interpreter exit
        db_path = Path(scratch.name) / "airtable.sqlite"
    app.state.settings = settings
    app.state.store = Store(db_path)
    app.state.limiter = RateLimiter(settings.rate_limit)
    api = APIRouter(prefix="/v0", dependencies=[Depends(authenticated), Depends(rate_limited)])
    # The meta routes first: "/v0/meta/bases" would otherwise read as a base "meta" and a table "bases".
    api.include_router(meta.router)
    api.include_router(records.router)
    app.include_router(api)
    app.include_router(admin)
    install_faults(app, fault_body)
    install_error_handlers(app)
    return app
