"""Airtable's meta API: the token's user, the bases, their tables and the tables' fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from airscope.standins.airtable.access import Payload, StoreDep, table_of
from airscope.standins.airtable.errors import error, not_found
from airscope.standins.airtable.model import FieldNameTaken, TableNameTaken, stable_id
from airscope.standins.airtable.schema import (
    checked_description,
    checked_name,
    decode_bases_offset,
    encode_bases_offset,
    name_taken,
    new_fields,
)

BASES_PAGE_SIZE = 1000  # Airtable's page of GET /v0/meta/bases

router = APIRouter(prefix="/meta")


@router.get("/whoami")
def whoami(request: Request) -> dict[str, str]:
    # The token's user: one per token, the same on every start.
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    return {"id": stable_id("usr", token)}


@router.get("/bases")
def list_bases(store: StoreDep, offset: str | None = None) -> dict[str, Any]:
    bases = store.bases()
    start = decode_bases_offset(offset) if offset else 0
    body: dict[str, Any] = {"bases": [b.to_json() for b in bases[start : start + BASES_PAGE_SIZE]]}
    if start + BASES_PAGE_SIZE < len(bases):
        body["offset"] = encode_bases_offset(start + BASES_PAGE_SIZE)
    return body


@router.get("/bases/{base_id}/tables")
def list_tables(base_id: str, request: Request, store: StoreDep) -> dict[str, Any]:
    if not store.has_base(base_id):
        raise not_found()
    include = request.query_params.getlist("include[]") + request.query_params.getlist("include")
    visible = "visibleFieldIds" in include
    return {"tables": [table.to_json(visible_field_ids=visible) for table in store.tables(base_id)]}


@router.post("/bases/{base_id}/tables")
def create_table(base_id: str, payload: Payload, store: StoreDep) -> dict[str, Any]:
    if not store.has_base(base_id):
        raise not_found()
    name = checked_name(payload.get("name"), "'name'")
    description, fields = checked_description(payload), new_fields(payload.get("fields"))
    try:
        return store.create_table(base_id, name, description, fields).to_json()
    except TableNameTaken:
        raise name_taken(name) from None


@router.patch("/bases/{base_id}/tables/{table_id_or_name}")
def update_table(base_id: str, table_id_or_name: str, payload: Payload, store: StoreDep) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    name = None if payload.get("name") is None else checked_name(payload["name"], "'name'")
    description = checked_description(payload)
    if name is None and description is None:
        raise error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: give a 'name' or a 'description'")
    try:
        return store.update_table(table, name, description).to_json()
    except TableNameTaken:
        raise name_taken(name or table.name) from None


@router.post("/bases/{base_id}/tables/{table_id_or_name}/fields")
def create_field(base_id: str, table_id_or_name: str, payload: Payload, store: StoreDep) -> dict[str, Any]:
    table = table_of(store, base_id, table_id_or_name)
    (field,) = new_fields([{key: payload.get(key) for key in ("name", "type", "options")}])
    try:
        return store.add_field(table, field).to_json()
    except FieldNameTaken:
        raise error(
            422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f'A field named "{field.name}" already exists'
        ) from None
