"""Airtable's record API: list (GET, or POST .../listRecords), get, create, update or replace
(one, a batch, or an upsert by ``performUpsert``) and delete records."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Query, Request

from airscope.standins.airtable.access import Payload, StoreDep, existing, table_of
from airscope.standins.airtable.errors import error, invalid, not_found
from airscope.standins.airtable.listing import (
    MAX_PAGE_SIZE,
    check_cell_format,
    flag,
    listed,
    listing_from_body,
    listing_from_query,
)
from airscope.standins.airtable.model import Table
from airscope.standins.airtable.store import Store
from airscope.standins.airtable.values import checked_fields, field_named, fields_of, record_json

MAX_BATCH = 10

router = APIRouter()


def batch(items: Any, what: str) -> list[Any]:
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise error(422, "INVALID_RECORDS", f"{what} must be a list of 1 to {MAX_BATCH} records")
    return items


@router.get("/{base_id}/{table_id_or_name}")
def list_records(
    base_id: str,
    table_id_or_name: str,
    request: Request,
    store: StoreDep,
    page_size: int = Query(MAX_PAGE_SIZE, alias="pageSize", ge=1, le=MAX_PAGE_SIZE),
    max_records: int | None = Query(None, alias="maxRecords", ge=1),
    offset: str | None = None,
    formula: str | None = Query(None, alias="filterByFormula"),
) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    listing = replace(
        listing_from_query(request),
        page_size=page_size,
        max_records=max_records,
        offset=offset,
        formula=formula,
    )
    return listed(store, table, listing)


@router.post("/{base_id}/{table_id_or_name}/listRecords")
def list_records_by_post(
    base_id: str, table_id_or_name: str, request: Request, payload: Payload, store: StoreDep
) -> dict[str, Any]:
    # What clients use when the GET's URL would be too long (pyairtable: from 16,000 characters).
    table = table_of(store, base_id, table_id_or_name)
    return listed(store, table, listing_from_body(payload, request))


@router.get("/{base_id}/{table_id_or_name}/{record_id}")
def get_record(
    base_id: str, table_id_or_name: str, record_id: str, request: Request, store: StoreDep
) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    record = store.record(table, record_id)
    if record is None:
        raise not_found()
    listing = listing_from_query(request)
    check_cell_format(listing)
    return record_json(table, record, by_field_id=listing.by_field_id, cell_format=listing.cell_format)


def typecast_choices(store: Store, table: Table, field_sets: list[dict[str, Any]]) -> None:
    # Airtable's typecast adds a single-select value it does not know as a new choice of the field.
    new: dict[str, list[str]] = {}
    for fields in field_sets:
        for name, value in fields.items():
            field = table.field(name)
            if field and field.type == "singleSelect" and isinstance(value, str) and value:
                new.setdefault(name, []).append(value)
    for name, values in new.items():
        table = store.add_choices(table, name, values)


@router.post("/{base_id}/{table_id_or_name}")
def create_records(base_id: str, table_id_or_name: str, payload: Payload, store: StoreDep) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    typecast = bool(payload.get("typecast", False))
    by_field_id = flag(payload.get("returnFieldsByFieldId"))
    if "records" not in payload:
        field_sets = [checked_fields(table, fields_of(payload), typecast)]
    else:
        items = batch(payload["records"], "records")
        field_sets = [checked_fields(table, fields_of(item), typecast) for item in items]
    if typecast:
        typecast_choices(store, table, field_sets)
    created = [record_json(table, r, by_field_id=by_field_id) for r in store.create(table, field_sets)]
    return created[0] if "records" not in payload else {"records": created}


def update_many(
    store: Store, base_id: str, table_id_or_name: str, payload: dict[str, Any], replace: bool
) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    typecast = bool(payload.get("typecast", False))
    by_field_id = flag(payload.get("returnFieldsByFieldId"))
    items = batch(payload.get("records"), "records")
    if payload.get("performUpsert") is not None:
        return upsert(store, table, payload["performUpsert"], items, typecast, by_field_id, replace)
    if not all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in items):
        raise error(422, "INVALID_RECORDS", "every record needs an 'id'")
    changes = [(item["id"], checked_fields(table, fields_of(item), typecast)) for item in items]
    existing(store, table, [record_id for record_id, _ in changes])
    if typecast:
        typecast_choices(store, table, [fields for _, fields in changes])
    updated = store.update(table, changes, replace=replace)
    return {"records": [record_json(table, r, by_field_id=by_field_id) for r in updated]}


def upsert(
    store: Store,
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
        raise invalid("performUpsert.fieldsToMergeOn must be a list of 1 to 3 fields")
    merge_names = [field_named(table, name).name for name in merge_on]
    if not all(isinstance(item, dict) for item in items):
        raise error(422, "INVALID_RECORDS", "every record must be an object")
    current = store.records(table)
    changes, creations, created_ids, updated_ids = [], [], [], []
    for item in items:
        fields = checked_fields(table, fields_of(item), typecast)
        if isinstance(item.get("id"), str):
            changes.append((item["id"], fields))
            continue
        if any(fields.get(name) in (None, "") for name in merge_names):
            raise error(422, "INVALID_RECORDS", "every record needs a value in each fieldsToMergeOn field")
        matches = [r for r in current if all(r.fields.get(n) == fields[n] for n in merge_names)]
        if len(matches) > 1:
            raise error(
                422,
                "INVALID_RECORDS",
                "Multiple records match the fieldsToMergeOn values; upsert needs at most one",
            )
        if matches:
            changes.append((matches[0].id, fields))
        else:
            creations.append(fields)
    existing(store, table, [record_id for record_id, _ in changes])
    if typecast:
        typecast_choices(store, table, [fields for _, fields in changes] + creations)
    updated = store.update(table, changes, replace=replace)
    created = store.create(table, creations) if creations else []
    updated_ids, created_ids = [r.id for r in updated], [r.id for r in created]
    return {
        "records": [record_json(table, r, by_field_id=by_field_id) for r in [*updated, *created]],
        "updatedRecords": updated_ids,
        "createdRecords": created_ids,
    }


def update_one(
    store: Store, base_id: str, table_id_or_name: str, record_id: str, payload: dict[str, Any], replace: bool
) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    typecast = bool(payload.get("typecast", False))
    fields = checked_fields(table, fields_of(payload), typecast)
    existing(store, table, [record_id])
    if typecast:
        typecast_choices(store, table, [fields])
    (record,) = store.update(table, [(record_id, fields)], replace=replace)
    return record_json(table, record, by_field_id=flag(payload.get("returnFieldsByFieldId")))


@router.patch("/{base_id}/{table_id_or_name}")
def patch_records(base_id: str, table_id_or_name: str, payload: Payload, store: StoreDep) -> dict[str, Any]:
    return update_many(store, base_id, table_id_or_name, payload, replace=False)


@router.put("/{base_id}/{table_id_or_name}")
def put_records(base_id: str, table_id_or_name: str, payload: Payload, store: StoreDep) -> dict[str, Any]:
    return update_many(store, base_id, table_id_or_name, payload, replace=True)


@router.patch("/{base_id}/{table_id_or_name}/{record_id}")
def patch_record(
    base_id: str, table_id_or_name: str, record_id: str, payload: Payload, store: StoreDep
) -> dict[str, Any]:
    return update_one(store, base_id, table_id_or_name, record_id, payload, replace=False)


@router.put("/{base_id}/{table_id_or_name}/{record_id}")
def put_record(
    base_id: str, table_id_or_name: str, record_id: str, payload: Payload, store: StoreDep
) -> dict[str, Any]:
    return update_one(store, base_id, table_id_or_name, record_id, payload, replace=True)


@router.delete("/{base_id}/{table_id_or_name}")
def delete_records(base_id: str, table_id_or_name: str, request: Request, store: StoreDep) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    ids = batch(
        request.query_params.getlist("records[]") + request.query_params.getlist("records"), "records[]"
    )
    existing(store, table, ids)
    store.delete(table, ids)
    return {"records": [{"id": record_id, "deleted": True} for record_id in ids]}


@router.delete("/{base_id}/{table_id_or_name}/{record_id}")
def delete_record(base_id: str, table_id_or_name: str, record_id: str, store: StoreDep) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    existing(store, table, [record_id])
    store.delete(table, [record_id])
    return {"id": record_id, "deleted": True}
