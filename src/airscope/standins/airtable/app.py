"""Airtable's REST API (the paths of api.airtable.com/v0) over the SQLite store.

Environment:

- ``STANDIN_AIRTABLE_DB``: the SQLite file (default ``$AIRSCOPE_HOME/data/standins/airtable.sqlite``
  when ``AIRSCOPE_HOME`` is set, else a file in a temporary directory removed at exit); seeded with
  the demo base (see ``seed``) when new.
- ``STANDIN_AIRTABLE_RATE_LIMIT``: requests per second per base before 429 (default 5, as Airtable;
  0 turns the limit off).
- ``STANDIN_AIRTABLE_TOKEN``: when set, the only bearer token accepted; else any bearer token is.
- ``STANDIN_LATENCY_MS``: base latency of every API request (see ``airscope.standins.faults``).

Tables are created with ``POST /v0/meta/bases/{baseId}/tables`` ``{"name", "description"?, "fields":
[{"name", "type", "options"?}]}`` (the first field is the primary one) and renamed or re-described with
``PATCH /v0/meta/bases/{baseId}/tables/{tableIdOrName}`` ``{"name"?, "description"?}``; both answer the
table. Like Airtable's, the API has no way to delete a table.

Errors have Airtable's shapes: 401 ``AUTHENTICATION_REQUIRED``; 404 ``{"error": "NOT_FOUND"}`` (unknown
base, route or record) or ``{"error": {"type": "TABLE_NOT_FOUND" | "MODEL_ID_NOT_FOUND", "message"}}``;
422 ``{"error": {"type": "INVALID_REQUEST_UNKNOWN" | "UNKNOWN_FIELD_NAME" | "INVALID_VALUE_FOR_COLUMN" |
"INVALID_FILTER_BY_FORMULA" | "INVALID_RECORDS" | "LIST_RECORDS_ITERATOR_NOT_AVAILABLE" | "DUPLICATE_TABLE_NAME" |
"INVALID_FIELD_TYPE" | "DUPLICATE_OR_EMPTY_FIELD_NAME", "message"}}``;
429 ``{"errors": [{"error": "RATE_LIMIT_REACHED", "message"}]}`` with ``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from airscope.services.common import env_int
from airscope.standins.airtable.formula import FormulaError, Row, compile_formula
from airscope.standins.airtable.ratelimit import RateLimiter
from airscope.standins.airtable.store import NewField, Record, Store, Table, TableNameTaken
from airscope.standins.faults import install_faults, refuse_production

MAX_PAGE_SIZE = 100
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


def _requested_fields(table: Table, request: Request) -> list[str] | None:
    names = request.query_params.getlist("fields[]") + request.query_params.getlist("fields")
    for name in names:
        if table.field(name) is None:
            raise _error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
    return names or None


def _sorted(table: Table, records: list[Record], request: Request) -> list[Record]:
    specs: dict[int, dict[str, str]] = {}
    for key, value in request.query_params.items():
        if match := _SORT_PARAM.match(key):
            specs.setdefault(int(match.group(1)), {})[match.group(2)] = value
    # Python's sort is stable: sorting by the last key first leaves the first key deciding.
    for index in sorted(specs, reverse=True):
        name, direction = specs[index].get("field", ""), specs[index].get("direction", "asc")
        if table.field(name) is None:
            raise _error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
        if direction not in ("asc", "desc"):
            raise _error(422, "INVALID_REQUEST_UNKNOWN", f"Invalid sort direction: {direction!r}")

        def key(record: Record, name: str = name) -> tuple[int, Any]:
            value = record.fields.get(name)
            if value is None:
                return (0, 0)
            return (1, value) if _is_number(value) else (2, str(value).lower())

        records = sorted(records, key=key, reverse=direction == "desc")
    return records


# Table schema -------------------------------------------------------------------------------


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

    @api.get("/meta/bases")
    def list_bases() -> dict[str, Any]:
        return {"bases": [base.to_json() for base in store.bases()]}

    @api.get("/meta/bases/{base_id}/tables")
    def list_tables(base_id: str) -> dict[str, Any]:
        if not store.has_base(base_id):
            raise _not_found()
        return {"tables": [table.to_json() for table in store.tables(base_id)]}

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
        fields = _requested_fields(table, request)
        records = store.records(table)
        if formula and formula.strip():
            try:
                keep = compile_formula(formula, [f.name for f in table.fields])
            except FormulaError as exc:
                raise _error(
                    422, "INVALID_FILTER_BY_FORMULA", f"The formula for filtering records is invalid: {exc}"
                ) from None
            records = [r for r in records if keep(Row(r.id, r.fields))]
        records = _sorted(table, records, request)[:max_records]
        start = _decode_offset(table, offset) if offset else 0
        body: dict[str, Any] = {"records": [r.to_json(fields) for r in records[start : start + page_size]]}
        if start + page_size < len(records):
            body["offset"] = _encode_offset(table, start + page_size)
        return body

    @api.get("/{base_id}/{table_id_or_name}/{record_id}")
    def get_record(base_id: str, table_id_or_name: str, record_id: str) -> dict[str, Any]:
        record = store.record(table_of(base_id, table_id_or_name), record_id)
        if record is None:
            raise _not_found()
        return record.to_json()

    @api.post("/{base_id}/{table_id_or_name}")
    def create_records(
        base_id: str,
        table_id_or_name: str,
        payload: Payload,
    ) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        typecast = bool(payload.get("typecast", False))
        if "records" not in payload:
            (record,) = store.create(table, [_checked_fields(table, _fields_of(payload), typecast)])
            return record.to_json()
        items = _batch(payload["records"], "records")
        field_sets = [_checked_fields(table, _fields_of(item), typecast) for item in items]
        return {"records": [r.to_json() for r in store.create(table, field_sets)]}

    def update_many(
        base_id: str, table_id_or_name: str, payload: dict[str, Any], replace: bool
    ) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        typecast = bool(payload.get("typecast", False))
        items = _batch(payload.get("records"), "records")
        if not all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items):
            raise _error(422, "INVALID_RECORDS", "every record needs an 'id'")
        changes = [(item["id"], _checked_fields(table, _fields_of(item), typecast)) for item in items]
        existing(table, [record_id for record_id, _ in changes])
        return {"records": [r.to_json() for r in store.update(table, changes, replace=replace)]}

    def update_one(
        base_id: str, table_id_or_name: str, record_id: str, payload: dict[str, Any], replace: bool
    ) -> dict[str, Any]:
        table = table_of(base_id, table_id_or_name)
        fields = _checked_fields(table, _fields_of(payload), bool(payload.get("typecast", False)))
        existing(table, [record_id])
        (record,) = store.update(table, [(record_id, fields)], replace=replace)
        return record.to_json()

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
