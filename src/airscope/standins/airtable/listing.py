"""Listing records: the parameters of a GET's query or a POST .../listRecords' body, the filter, the
sort, the pages and their offsets."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from airscope.standins.airtable.errors import error, invalid
from airscope.standins.airtable.formula import FormulaError, Row, compile_formula
from airscope.standins.airtable.model import Record, Table
from airscope.standins.airtable.store import Store
from airscope.standins.airtable.values import field_named, is_number, record_json

MAX_PAGE_SIZE = 100
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


def flag(value: Any) -> bool:
    """returnFieldsByFieldId as a query parameter (``1``, ``true``) or a JSON boolean."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    return str(value).strip().lower() in ("1", "true")


def listing_from_query(request: Request) -> Listing:
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
        by_field_id=flag(query.get("returnFieldsByFieldId")),
    )


def listing_from_body(body: dict[str, Any], request: Request) -> Listing:
    if unknown := sorted(set(body) - _LIST_BODY_KEYS):
        raise invalid(f"unknown parameter(s) {', '.join(unknown)}")

    def typed(key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        value = body.get(key, default)
        if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is int)):
            raise invalid(f"'{key}' has the wrong type")
        return value

    page_size = typed("pageSize", int, MAX_PAGE_SIZE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise invalid(f"pageSize must be 1 to {MAX_PAGE_SIZE}")
    max_records = typed("maxRecords", int)
    if max_records is not None and max_records < 1:
        raise invalid("maxRecords must be at least 1")
    fields = typed("fields", list)
    sort = typed("sort", list, [])
    if fields is not None and not all(isinstance(name, str) for name in fields):
        raise invalid("'fields' must be a list of field names or IDs")
    if not all(isinstance(spec, dict) and isinstance(spec.get("field"), str) for spec in sort):
        raise invalid("'sort' must be a list of {field, direction}")
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


def encode_offset(table: Table, start: int) -> str:
    return base64.urlsafe_b64encode(f"{table.id}:{start}".encode()).decode().rstrip("=")


def decode_offset(table: Table, offset: str) -> int:
    try:
        table_id, start = base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4)).decode().split(":")
        if table_id == table.id and int(start) >= 0:
            return int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise error(
        422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE", "The offset is not valid for this list of records"
    )


def requested_fields(table: Table, listing: Listing) -> set[str] | None:
    """The names of the fields to answer (``fields`` takes names or IDs); None for all."""
    if listing.fields is None:
        return None
    return {field_named(table, name).name for name in listing.fields}


def check_view(table: Table, view: str | None) -> None:
    # The one view shows every record in creation order: naming it changes nothing, naming another fails.
    if view is not None and not any(view in (v["id"], v["name"]) for v in table.views()):
        raise error(422, "VIEW_NAME_NOT_FOUND", f'Could not find view "{view}" in table "{table.name}"')


def check_cell_format(listing: Listing) -> None:
    if listing.cell_format not in CELL_FORMATS:
        raise invalid(f"cellFormat must be one of {', '.join(CELL_FORMATS)}")
    if listing.cell_format == "string" and not (listing.time_zone and listing.user_locale):
        raise invalid("cellFormat 'string' needs a timeZone and a userLocale")


def sort_records(table: Table, records: list[Record], sort: tuple[tuple[str, str], ...]) -> list[Record]:
    # Python's sort is stable: sorting by the last key first leaves the first key deciding.
    for name_or_id, direction in reversed(sort):
        name = field_named(table, name_or_id).name
        if direction not in ("asc", "desc"):
            raise invalid(f"sort direction {direction!r}")

        def key(record: Record, name: str = name) -> tuple[int, Any]:
            value = record.fields.get(name)
            if value is None:
                return (0, 0)
            return (1, value) if is_number(value) else (2, str(value).lower())

        records = sorted(records, key=key, reverse=direction == "desc")
    return records


def listed(store: Store, table: Table, listing: Listing) -> dict[str, Any]:
    """One page of the table's records, as Airtable answers a list."""
    only = requested_fields(table, listing)
    check_view(table, listing.view)
    check_cell_format(listing)
    records = store.records(table)
    if listing.formula and listing.formula.strip():
        try:
            keep = compile_formula(listing.formula, [f.name for f in table.fields])
        except FormulaError as exc:
            raise error(
                422, "INVALID_FILTER_BY_FORMULA", f"The formula for filtering records is invalid: {exc}"
            ) from None
        records = [r for r in records if keep(Row(r.id, r.fields))]
    records = sort_records(table, records, listing.sort)[: listing.max_records]
    start = decode_offset(table, listing.offset) if listing.offset else 0
    page = records[start : start + listing.page_size]
    shown = {"only": only, "by_field_id": listing.by_field_id, "cell_format": listing.cell_format}
    body: dict[str, Any] = {"records": [record_json(table, r, **shown) for r in page]}
    if start + listing.page_size < len(records):
        body["offset"] = encode_offset(table, start + listing.page_size)
    return body
