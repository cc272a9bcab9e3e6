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

import base64
import binascii
import json
import os
import re
import tempfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, StrictInt
from pydantic import Field as PydanticField
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from airscope.services.common import env_int
from airscope.standins.airtable.formula import FormulaError, Row, compile_formula
from airscope.standins.airtable.ratelimit import RateLimiter
from airscope.standins.airtable.store import (
    Field,
    FieldNameTaken,
    NewField,
    Record,
    Store,
    Table,
    TableNameTaken,
    stable_id,
)
from airscope.standins.faults import ADMIN_PREFIX, install_faults, refuse_production

MAX_PAGE_SIZE = 100
BASES_PAGE_SIZE = 1000  # Airtable's page of GET /v0/meta/bases
MAX_GROW_TABLES = 500
MAX_GROW_RECORDS = 1000
MAX_BATCH = 10
MAX_NAME_CHARS = 255
# The field types a created table may have: the ones whose values the stand-in checks, plus a few
# whose values it takes as they come.
FIELD_TYPES = frozenset(
    {
        "singleLineText",
        "multilineText",
        "email",
        "url",
        "phoneNumber",
        "number",
        "currency",
        "percent",
        "date",
        "checkbox",
        "singleSelect",
    }
)

Payload = Annotated[dict[str, Any], Body()]


class AirtableError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, kind: str, message: str) -> AirtableError:
    return AirtableError(status, {"error": {"type": kind, "message": message}})


def _not_found() -> AirtableError:
    return AirtableError(404, {"error": "NOT_FOUND"})


class Grow(BaseModel):
    """``POST /_admin/bases/{baseId}/grow``: make the base big (tests, drills)."""

    model_config = ConfigDict(extra="forbid")

    tables: StrictInt = PydanticField(ge=0, le=MAX_GROW_TABLES)
    records_per_table: StrictInt = PydanticField(ge=0, le=MAX_GROW_RECORDS)


def _fault_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"type": "SERVICE_UNAVAILABLE" if status == 503 else "SERVER_ERROR", "message": message}}


@dataclass(frozen=True)
class Settings:
    db_path: Path | None
    rate_limit: int
    token: str | None

    @classmethod
    def from_env(cls) -> Settings:
        path = os.environ.get("STANDIN_AIRTABLE_DB")
        home = os.environ.get("AIRSCOPE_HOME")
        if not path and home:
            path = str(Path(home) / "data" / "standins" / "airtable.sqlite")
        return cls(
            db_path=Path(path) if path else None,
            rate_limit=env_int("STANDIN_AIRTABLE_RATE_LIMIT", 5, minimum=0),
            token=os.environ.get("STANDIN_AIRTABLE_TOKEN") or None,
        )


# Field values -------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _cast(field_type: str, value: Any) -> Any:
    """What Airtable's ``typecast`` makes of a value; unchanged when nothing fits."""
    if field_type in ("number", "currency", "percent") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if field_type in ("singleLineText", "multilineText", "email") and _is_number(value):
        return str(value)
    return value


def _valid(field_type: str, options: dict[str, Any] | None, value: Any, typecast: bool) -> bool:
    if field_type in ("singleLineText", "multilineText", "email"):
        return isinstance(value, str)
    if field_type in ("number", "currency", "percent"):
        return _is_number(value)
    if field_type == "date":
        return _is_date(value)
    if field_type == "singleSelect":
        # typecast lets Airtable add a new choice; the stand-in simply accepts it.
        choices = {c["name"] for c in (options or {}).get("choices", [])}
        return isinstance(value, str) and (typecast or value in choices)
    return True


def _fields_of(item: Any) -> Any:
    return item.get("fields", {}) if isinstance(item, dict) else None


def _checked_fields(table: Table, fields: Any, typecast: bool) -> dict[str, Any]:
    """The fields keyed by field name, after Airtable's checks (names or IDs accepted as keys)."""
    if not isinstance(fields, dict):
        raise _error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: 'fields' must be an object")
    checked = {}
    for key, raw in fields.items():
        field = next((f for f in table.fields if key in (f.name, f.id)), None)
        if field is None:
            raise _error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{key}"')
        value = _cast(field.type, raw) if typecast else raw
        if value is not None and not _valid(field.type, field.options, value, typecast):
            raise _error(
                422, "INVALID_VALUE_FOR_COLUMN", f'Field "{field.name}" cannot accept the provided value'
            )
        checked[field.name] = value
    return checked


# Listing ------------------------------------------------------------------------------------

_SORT_PARAM = re.compile(r"^sort\[(\d+)\]\[(field|direction)\]$")
CELL_FORMATS = ("json", "string")
# What POST .../listRecords takes in its body (timeZone and userLocale stay query parameters).
_LIST_BODY_KEYS = frozenset(
    {
        "pageSize",
        "maxRecords",
        "offset",
        "filterByFormula",
        "fields",
        "sort",
        "view",
        "cellFormat",
        "returnFieldsByFieldId",
        "recordMetadata",
        "timeZone",
        "userLocale",
    }
)


@dataclass(frozen=True)
class Listing:
    """How to list records, from a GET's query or a POST .../listRecords' body."""

    page_size: int = MAX_PAGE_SIZE
    max_records: int | None = None
    offset: str | None = None
    formula: str | None = None
    fields: tuple[str, ...] | None = None  # names or IDs
    sort: tuple[tuple[str, str], ...] = ()  # (field name or ID, direction)
    view: str | None = None
    cell_format: str = "json"
    time_zone: str | None = None
    user_locale: str | None = None
    by_field_id: bool = False


def _invalid(message: str) -> AirtableError:
    return _error(422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: {message}")


def _flag(value: Any) -> bool:
    """returnFieldsByFieldId as a query parameter (``1``, ``true``) or a JSON boolean."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    return str(value).strip().lower() in ("1", "true")


def _listing_from_query(request: Request) -> Listing:
    query = request.query_params
    specs: dict[int, dict[str, str]] = {}
    for key, value in query.items():
        if match := _SORT_PARAM.match(key):
            specs.setdefault(int(match.group(1)), {})[match.group(2)] = value
    fields = query.getlist("fields[]") + query.getlist("fields")
    return Listing(
        fields=tuple(fields) or None,
        sort=tuple((specs[i].get("field", ""), specs[i].get("direction", "asc")) for i in sorted(specs)),
        view=query.get("view") or None,
        cell_format=query.get("cellFormat") or "json",
        time_zone=query.get("timeZone"),
        user_locale=query.get("userLocale"),
        by_field_id=_flag(query.get("returnFieldsByFieldId")),
    )


def _listing_from_body(body: dict[str, Any], request: Request) -> Listing:
    if unknown := sorted(set(body) - _LIST_BODY_KEYS):
        raise _invalid(f"unknown parameter(s) {', '.join(unknown)}")

    def typed(key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        value = body.get(key, default)
        if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is int)):
            raise _invalid(f"'{key}' has the wrong type")
        return value

    page_size = typed("pageSize", int, MAX_PAGE_SIZE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise _invalid(f"pageSize must be 1 to {MAX_PAGE_SIZE}")
    max_records = typed("maxRecords", int)
    if max_records is not None and max_records < 1:
        raise _invalid("maxRecords must be at least 1")
    fields = typed("fields", list)
    sort = typed("sort", list, [])
    if fields is not None and not all(isinstance(name, str) for name in fields):
        raise _invalid("'fields' must be a list of field names or IDs")
    if not all(isinstance(spec, dict) and isinstance(spec.get("field"), str) for spec in sort):
        raise _invalid("'sort' must be a list of {field, direction}")
    query = request.query_params
    return Listing(
        page_size=page_size,
        max_records=max_records,
        offset=typed("offset", str),
        formula=typed("filterByFormula", str),
        fields=None if fields is None else tuple(fields),
        sort=tuple((spec["field"], str(spec.get("direction", "asc"))) for spec in sort),
        view=typed("view", str),
        cell_format=typed("cellFormat", str) or "json",
        time_zone=typed("timeZone", str) or query.get("timeZone"),
        user_locale=typed("userLocale", str) or query.get("userLocale"),
        by_field_id=bool(typed("returnFieldsByFieldId", bool, False)),
    )


def _encode_offset(table: Table, start: int) -> str:
    return base64.urlsafe_b64encode(f"{table.id}:{start}".encode()).decode().rstrip("=")


def _decode_offset(table: Table, offset: str) -> int:
    try:
        table_id, start = base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4)).decode().split(":")
        if table_id == table.id and int(start) >= 0:
            return int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _error(
        422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "The offset is not valid for this list of records"
    )


def _field_named(table: Table, name: str) -> Field:
    field = table.field(name)
    if field is None:
        raise _error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
    return field


def _requested_fields(table: Table, listing: Listing) -> set[str] | None:
    """The names of the fields to answer (``fields`` takes names or IDs); None for all."""
    if listing.fields is None:
        return None
    return {_field_named(table, name).name for name in listing.fields}


def _check_view(table: Table, view: str | None) -> None:
    # The one view shows every record in creation order: naming it changes nothing, naming another fails.
    if view is not None and not any(view in (v["id"], v["name"]) for v in table.views()):
        raise _error(422, "VIEW_NAME_NOT_FOUND", f'Could not find view "{view}" in table "{table.name}"')


def _check_cell_format(listing: Listing) -> None:
    if listing.cell_format not in CELL_FORMATS:
        raise _invalid(f"cellFormat must be one of {', '.join(CELL_FORMATS)}")
    if listing.cell_format == "string" and not (listing.time_zone and listing.user_locale):
        raise _invalid("cellFormat 'string' needs a timeZone and a userLocale")


def _sorted(table: Table, records: list[Record], sort: tuple[tuple[str, str], ...]) -> list[Record]:
    # Python's sort is stable: sorting by the last key first leaves the first key deciding.
    for name_or_id, direction in reversed(sort):
        name = _field_named(table, name_or_id).name
        if direction not in ("asc", "desc"):
            raise _invalid(f"sort direction {direction!r}")

        def key(record: Record, name: str = name) -> tuple[int, Any]:
            value = record.fields.get(name)
            if value is None:
                return (0, 0)
            return (1, value) if _is_number(value) else (2, str(value).lower())

        records = sorted(records, key=key, reverse=direction == "desc")
    return records


_DATE_TEXT = {
    "us": "{d.month}/{d.day}/{d.year}",
    "local": "{d.month}/{d.day}/{d.year}",
    "european": "{d.day}/{d.month}/{d.year}",
    "friendly": "{d:%B} {d.day}, {d.year}",
}


def _cell_text(field: Field, value: Any) -> str:
    """A value as Airtable's ``cellFormat=string`` shows it (the stand-in's field types)."""
    options = field.options or {}
    if field.type in ("number", "currency", "percent") and _is_number(value):
        precision = int(options.get("precision", 0))
        if field.type == "currency":
            return f"{options.get('symbol', '$')}{value:,.{precision}f}"
        if field.type == "percent":
            return f"{value * 100:.{precision}f}%"
        return f"{value:.{precision}f}"
    if field.type == "date" and _is_date(value):
        name = options.get("dateFormat", {}).get("name", "iso")
        return _DATE_TEXT[name].format(d=date.fromisoformat(value)) if name in _DATE_TEXT else value
    if field.type == "checkbox":
        return "checked" if value else ""
    return value if isinstance(value, str) else json.dumps(value)


def _record_json(
    table: Table,
    record: Record,
    *,
    only: set[str] | None = None,
    by_field_id: bool = False,
    cell_format: str = "json",
) -> dict[str, Any]:
    """The record as Airtable answers it: its fields by name (or by ID), in the table's field order."""
    fields = {}
    for field in table.fields:
        if field.name in record.fields and (only is None or field.name in only):
            value = record.fields[field.name]
            fields[field.id if by_field_id else field.name] = (
                _cell_text(field, value) if cell_format == "string" else value
            )
    return {"id": record.id, "createdTime": record.created_time, "fields": fields}


# Table schema -------------------------------------------------------------------------------


def _encode_bases_offset(start: int) -> str:
    return base64.urlsafe_b64encode(f"bases:{start}".encode()).decode().rstrip("=")


def _decode_bases_offset(offset: str) -> int:
    try:
        kind, start = base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4)).decode().split(":")
        if kind == "bases" and int(start) >= 0:
            return int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _error(422, "INVALID_OFFSET_VALUE", "The offset is not valid for this list of bases")


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise _error(
            422,
            "INVALID_REQUEST_UNKNOWN",
            f"Invalid request: {what} must be 1 to {MAX_NAME_CHARS} characters",
        )
    return value.strip()


def _description(payload: dict[str, Any]) -> str | None:
    description = payload.get("description")
    if description is not None and not isinstance(description, str):
        raise _error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: 'description' must be a string")
    return description


def _check_options(name: str, field_type: str, options: dict[str, Any]) -> None:
    """What the stand-in reads of a new field's options has the types Airtable requires."""

    def bad(what: str) -> AirtableError:
        return _error(422, "INVALID_FIELD_TYPE_OPTIONS", f"Invalid options for field {name!r}: {what}")

    precision = options.get("precision", 0)
    if not isinstance(precision, int) or isinstance(precision, bool) or not 0 <= precision <= 8:
        raise bad("precision must be a whole number 0 to 8")
    for key in ("symbol", "color", "icon"):
        if key in options and not isinstance(options[key], str):
            raise bad(f"{key} must be a string")
    if "dateFormat" in options and not (
        isinstance(options["dateFormat"], dict) and isinstance(options["dateFormat"].get("name", ""), str)
    ):
        raise bad("dateFormat must be an object with a name")
    if field_type == "singleSelect":
        choices = options.get("choices", [])
        if not isinstance(choices, list) or not all(
            isinstance(c, dict)
            and isinstance(c.get("name"), str)
            and c["name"].strip()
            and all(isinstance(c.get(key, ""), str) for key in ("id", "color"))
            for c in choices
        ):
            raise bad("choices must be a list of {name, color?}")
        if len({c["name"] for c in choices}) != len(choices):
            raise bad("choice names must be unique")


def _new_fields(items: Any) -> list[NewField]:
    if not isinstance(items, list) or not items:
        raise _error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: 'fields' must be a non-empty list")
    fields, seen = [], set()
    for item in items:
        if not isinstance(item, dict):
            raise _error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: every field must be an object")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or name.strip().lower() in seen:
            raise _error(
                422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f"Field names must be unique and non-empty: {name!r}"
            )
        seen.add(name.strip().lower())
        if item.get("type") not in FIELD_TYPES:
            raise _error(
                422, "INVALID_FIELD_TYPE", f"Unsupported field type {item.get('type')!r} for {name!r}"
            )
        options = item.get("options")
        if options is not None and not isinstance(options, dict):
            raise _error(
                422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: options of {name!r} must be an object"
            )
        _check_options(name, item["type"], options or {})
        fields.append(NewField(name.strip(), item["type"], options))
    return fields


def _name_taken(name: str) -> AirtableError:
    return _error(422, "DUPLICATE_TABLE_NAME", f'A table named "{name}" already exists in this base')


# App ----------------------------------------------------------------------------------------


def _batch(items: Any, what: str) -> list[Any]:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise _error(422, "INVALID_RECORDS", f"{what} must be a list of 1 to {MAX_BATCH} records")
    return items


def create_app() -> FastAPI:
    refuse_production()
    settings = Settings.from_env()
    app = FastAPI(title="Airtable stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    if settings.db_path is None:
        scratch = tempfile.TemporaryDirectory(prefix="airscope-airtable-standin-")
        app.state.scratch = scratch  # kept alive with the app; removed at interpreter exit
        db_path = Path(scratch.name) / "airtable.sqlite"
    else:
        db_path = settings.db_path
    store = Store(db_path)
    limiter = RateLimiter(settings.rate_limit)
    app.state.store = store

    async def authenticated(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or settings.token not in (None, token.strip()):
            raise _error(401, "AUTHENTICATION_REQUIRED", "Authentication required")

    async def rate_limited(request: Request) -> None:
        base_id = request.path_params.get("base_id")
        if base_id and (retry_after := limiter.acquire(base_id)) is not None:
            raise AirtableError(
                429,
                {
                    "errors": [
                        {
                            "error": "RATE_LIMIT_REACHED",
                            "message": "Rate limit exceeded. Please try again later",
                        }
                    ]
                },
                {"Retry-After": str(retry_after)},
            )

    def table_of(base_id: str, table_id_or_name: str) -> Table:
        if not store.has_base(base_id):
            raise _not_found()
        table = store.table(base_id, table_id_or_name)
        if table is None:
            raise _error(
                404, "TABLE_NOT_FOUND", f'Could not find table "{table_id_or_name}" in application {base_id}'
            )
        return table

    def existing(table: Table, record_ids: list[str]) -> None:
        if missing := store.missing(table, record_ids):
            raise _error(404, "MODEL_ID_NOT_FOUND", f'Could not find a record with ID "{missing[0]}".')

    api = APIRouter(prefix="/v0", dependencies=[Depends(authenticated), Depends(rate_limited)])

    @api.get("/meta/whoami")
    def whoami(request: Request) -> dict[str, str]:
        # The token's user: one per token, the same on every start.
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        return {"id": stable_id("usr", token)}

    @api.get("/meta/bases")
    def list_bases(offset: str | None = None) -> dict[str, Any]:
        bases = store.bases()
        start = _decode_bases_offset(offset) if offset else 0
        body: dict[str, Any] = {"bases": [b.to_json() for b in bases[start : start + BASES_PAGE_SIZE]]}
        if start + BASES_PAGE_SIZE < len(bases):
            body["offset"] = _encode_bases_offset(start + BASES_PAGE_SIZE)
        return body

    @api.get("/meta/bases/{base_id}/tables")
    def list_tables(base_id: str, request: Request) -> dict[str, Any]:
        if not store.has_base(base_id):
            raise _not_found()
        include = request.query_params.getlist("include[]") + request.query_params.getlist("include")
        visible = "visibleFieldIds" in include
        return {"tables": [table.to_json(visible_field_ids=visible) for table in store.tables(base_id)]}

    @api.post("/meta/bases/{base_id}/tables")
    def create_table(base_id: str, payload: Payload) -> dict[str, Any]:
        if not store.has_base(base_id):
            raise _not_found()
        name = _name(payload.get("name"), "'name'")
        description, fields = _description(payload), _new_fields(payload.get("fields"))
        try:
            return store.create_table(base_id, name, description, fields).to_json()
        except TableNameTaken:
            raise _name_taken(name) from None

    @api.patch("/meta/bases/{base_id}/tables/{table_id_or_name}")
    def update_table(base_id: str, table_id_or_name: str, payload: Payload) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        name = None if payload.get("name") is None else _name(payload["name"], "'name'")
        description = _description(payload)
        if name is None and description is None:
            raise _error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: give a 'name' or a 'description'")
        try:
            return store.update_table(table, name, description).to_json()
        except TableNameTaken:
            raise _name_taken(name or table.name) from None

    def listed(table: Table, listing: Listing) -> dict[str, Any]:
        only = _requested_fields(table, listing)
        _check_view(table, listing.view)
        _check_cell_format(listing)
        records = store.records(table)
        if listing.formula and listing.formula.strip():
            try:
                keep = compile_formula(listing.formula, [f.name for f in table.fields])
            except FormulaError as exc:
                raise _error(
                    422, "INVALID_FILTER_BY_FORMULA", f"The formula for filtering records is invalid: {exc}"
                ) from None
            records = [r for r in records if keep(Row(r.id, r.fields))]
        records = _sorted(table, records, listing.sort)[: listing.max_records]
        start = _decode_offset(table, listing.offset) if listing.offset else 0
        page = records[start : start + listing.page_size]
        shown = {"only": only, "by_field_id": listing.by_field_id, "cell_format": listing.cell_format}
        body: dict[str, Any] = {"records": [_record_json(table, r, **shown) for r in page]}
        if start + listing.page_size < len(records):
            body["offset"] = _encode_offset(table, start + listing.page_size)
        return body

    @api.post("/meta/bases/{base_id}/tables/{table_id_or_name}/fields")
    def create_field(base_id: str, table_id_or_name: str, payload: Payload) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        (field,) = _new_fields([{key: payload.get(key) for key in ("name", "type", "options")}])
        try:
            return store.add_field(table, field).to_json()
        except FieldNameTaken:
            raise _error(
                422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f'A field named "{field.name}" already exists'
            ) from None

    @api.get("/{base_id}/{table_id_or_name}")
    def list_records(
        base_id: str,
        table_id_or_name: str,
        request: Request,
        page_size: int = Query(MAX_PAGE_SIZE, alias="pageSize", ge=1, le=MAX_PAGE_SIZE),
        max_records: int | None = Query(None, alias="maxRecords", ge=1),
        offset: str | None = None,
        formula: str | None = Query(None, alias="filterByFormula"),
    ) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        listing = replace(
            _listing_from_query(request),
            page_size=page_size,
            max_records=max_records,
            offset=offset,
            formula=formula,
        )
        return listed(table, listing)

    @api.post("/{base_id}/{table_id_or_name}/listRecords")
    def list_records_by_post(
        base_id: str, table_id_or_name: str, request: Request, payload: Payload
    ) -> dict[str, Any]:
        # What clients use when the GET's URL would be too long (pyairtable: from 16,000 characters).
        table = table_of(base_id, table_id_or_name)
        return listed(table, _listing_from_body(payload, request))

    @api.get("/{base_id}/{table_id_or_name}/{record_id}")
    def get_record(base_id: str, table_id_or_name: str, record_id: str, request: Request) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        record = store.record(table, record_id)
        if record is None:
            raise _not_found()
        listing = _listing_from_query(request)
        _check_cell_format(listing)
        return _record_json(table, record, by_field_id=listing.by_field_id, cell_format=listing.cell_format)

    def typecast_choices(table: Table, field_sets: list[dict[str, Any]]) -> None:
        # Airtable's typecast adds a single-select value it does not know as a new choice of the field.
        new: dict[str, list[str]] = {}
        for fields in field_sets:
            for name, value in fields.items():
                field = table.field(name)
                if field and field.type == "singleSelect" and isinstance(value, str) and value:
                    new.setdefault(name, []).append(value)
        for name, values in new.items():
            table = store.add_choices(table, name, values)

    @api.post("/{base_id}/{table_id_or_name}")
    def create_records(
        base_id: str,
        table_id_or_name: str,
        payload: Payload,
    ) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        typecast = bool(payload.get("typecast", False))
        by_field_id = _flag(payload.get("returnFieldsByFieldId"))
        if "records" not in payload:
            field_sets = [_checked_fields(table, _fields_of(payload), typecast)]
        else:
            items = _batch(payload["records"], "records")
            field_sets = [_checked_fields(table, _fields_of(item), typecast) for item in items]
        if typecast:
            typecast_choices(table, field_sets)
        created = [_record_json(table, r, by_field_id=by_field_id) for r in store.create(table, field_sets)]
        return created[0] if "records" not in payload else {"records": created}

    def update_many(
        base_id: str, table_id_or_name: str, payload: dict[str, Any], replace: bool
    ) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        typecast = bool(payload.get("typecast", False))
        by_field_id = _flag(payload.get("returnFieldsByFieldId"))
        items = _batch(payload.get("records"), "records")
        if payload.get("performUpsert") is not None:
            return upsert(table, payload["performUpsert"], items, typecast, by_field_id, replace)
        if not all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items):
            raise _error(422, "INVALID_RECORDS", "every record needs an 'id'")
        changes = [(item["id"], _checked_fields(table, _fields_of(item), typecast)) for item in items]
        existing(table, [record_id for record_id, _ in changes])
        if typecast:
            typecast_choices(table, [fields for _, fields in changes])
        updated = store.update(table, changes, replace=replace)
        return {"records": [_record_json(table, r, by_field_id=by_field_id) for r in updated]}

    def upsert(
        table: Table,
        perform: Any,
        items: list[Any],
        typecast: bool,
        by_field_id: bool,
        replace: bool,
    ) -> dict[str, Any]:
        """``performUpsert``: a record without an ``id`` updates the one record whose merge fields
        equal its own, or is created when none does (several: 422)."""
        merge_on = perform.get("fieldsToMergeOn") if isinstance(perform, dict) else None
        if not isinstance(merge_on, list) or not 1 <= len(merge_on) <= 3:
            raise _invalid("performUpsert.fieldsToMergeOn must be a list of 1 to 3 fields")
        merge_names = [_field_named(table, name).name for name in merge_on]
        if not all(isinstance(item, dict) for item in items):
            raise _error(422, "INVALID_RECORDS", "every record must be an object")
        current = store.records(table)
        changes, creations, created_ids, updated_ids = [], [], [], []
        for item in items:
            fields = _checked_fields(table, _fields_of(item), typecast)
            if isinstance(item.get("id"), str):
                changes.append((item["id"], fields))
                continue
            if any(fields.get(name) in (None, "") for name in merge_names):
                raise _error(
                    422, "INVALID_RECORDS", "every record needs a value in each fieldsToMergeOn field"
                )
            matches = [r for r in current if all(r.fields.get(n) == fields[n] for n in merge_names)]
            if len(matches) > 1:
                raise _error(
                    422,
                    "INVALID_RECORDS",
                    "Multiple records match the fieldsToMergeOn values; upsert needs at most one",
                )
            if matches:
                changes.append((matches[0].id, fields))
            else:
                creations.append(fields)
        existing(table, [record_id for record_id, _ in changes])
        if typecast:
            typecast_choices(table, [fields for _, fields in changes] + creations)
        updated = store.update(table, changes, replace=replace)
        created = store.create(table, creations) if creations else []
        updated_ids, created_ids = [r.id for r in updated], [r.id for r in created]
        return {
            "records": [_record_json(table, r, by_field_id=by_field_id) for r in [*updated, *created]],
            "updatedRecords": updated_ids,
            "createdRecords": created_ids,
        }

    def update_one(
        base_id: str, table_id_or_name: str, record_id: str, payload: dict[str, Any], replace: bool
    ) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        typecast = bool(payload.get("typecast", False))
        fields = _checked_fields(table, _fields_of(payload), typecast)
        existing(table, [record_id])
        if typecast:
            typecast_choices(table, [fields])
        (record,) = store.update(table, [(record_id, fields)], replace=replace)
        return _record_json(table, record, by_field_id=_flag(payload.get("returnFieldsByFieldId")))

    @api.patch("/{base_id}/{table_id_or_name}")
    def patch_records(base_id: str, table_id_or_name: str, payload: Payload) -> dict[str, Any]:
        return update_many(base_id, table_id_or_name, payload, replace=False)

    @api.put("/{base_id}/{table_id_or_name}")
    def put_records(base_id: str, table_id_or_name: str, payload: Payload) -> dict[str, Any]:
        return update_many(base_id, table_id_or_name, payload, replace=True)

    @api.patch("/{base_id}/{table_id_or_name}/{record_id}")
    def patch_record(
        base_id: str,
        table_id_or_name: str,
        record_id: str,
        payload: Payload,
    ) -> dict[str, Any]:
        return update_one(base_id, table_id_or_name, record_id, payload, replace=False)

    @api.put("/{base_id}/{table_id_or_name}/{record_id}")
    def put_record(
        base_id: str,
        table_id_or_name: str,
        record_id: str,
        payload: Payload,
    ) -> dict[str, Any]:
        return update_one(base_id, table_id_or_name, record_id, payload, replace=True)

    @api.delete("/{base_id}/{table_id_or_name}")
    def delete_records(base_id: str, table_id_or_name: str, request: Request) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        ids = _batch(
            request.query_params.getlist("records[]") + request.query_params.getlist("records"), "records[]"
        )
        existing(table, ids)
        store.delete(table, ids)
        return {"records": [{"id": record_id, "deleted": True} for record_id in ids]}

    @api.delete("/{base_id}/{table_id_or_name}/{record_id}")
    def delete_record(base_id: str, table_id_or_name: str, record_id: str) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        existing(table, [record_id])
        store.delete(table, [record_id])
        return {"id": record_id, "deleted": True}

    app.include_router(api)

    @app.post(f"{ADMIN_PREFIX}/bases/{{base_id}}/grow")
    def grow(base_id: str, body: Grow) -> dict[str, int]:
        # Dev tooling like /_admin/faults: no token, no rate limit, no faults (the middleware skips /_admin).
        if not store.has_base(base_id):
            raise _not_found()
        tables_created, records_created, tables = store.grow(base_id, body.tables, body.records_per_table)
        return {"tables_created": tables_created, "records_created": records_created, "tables": tables}

    install_faults(app, _fault_body)

    async def airtable_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AirtableError)
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        error = _error(
            422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: {where}: {first.get('msg', 'invalid')}"
        )
        return await airtable_error(request, error)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return await airtable_error(request, _not_found())
        return JSONResponse(
            {"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": str(exc.detail)}},
            status_code=exc.status_code,
        )

    app.add_exception_handler(AirtableError, airtable_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    return app
