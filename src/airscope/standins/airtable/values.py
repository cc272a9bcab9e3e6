"""Field values as Airtable checks, casts and answers them (``typecast``, ``cellFormat=string``)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from airscope.standins.airtable.errors import error
from airscope.standins.airtable.model import Field, Record, Table


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_date(value: Any) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def cast(field_type: str, value: Any) -> Any:
    """What Airtable's ``typecast`` makes of a value; unchanged when nothing fits."""
    if field_type in ("number", "currency", "percent") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if field_type in ("singleLineText", "multilineText", "email") and is_number(value):
        return str(value)
    return value


def valid(field_type: str, options: dict[str, Any] | None, value: Any, typecast: bool) -> bool:
    if field_type in ("singleLineText", "multilineText", "email"):
        return isinstance(value, str)
    if field_type in ("number", "currency", "percent"):
        return is_number(value)
    if field_type == "date":
        return is_date(value)
    if field_type == "singleSelect":
        # typecast lets Airtable add a new choice; the stand-in simply accepts it.
        choices = {c["name"] for c in (options or {}).get("choices", [])}
        return isinstance(value, str) and (typecast or value in choices)
    return True


def fields_of(item: Any) -> Any:
    return item.get("fields", {}) if isinstance(item, dict) else None


def checked_fields(table: Table, fields: Any, typecast: bool) -> dict[str, Any]:
    """The fields keyed by field name, after Airtable's checks (names or IDs accepted as keys)."""
    if not isinstance(fields, dict):
        raise error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: 'fields' must be an object")
    checked = {}
    for key, raw in fields.items():
        field = next((f for f in table.fields if key in (f.name, f.id)), None)
        if field is None:
            raise error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{key}"')
        value = cast(field.type, raw) if typecast else raw
        if value is not None and not valid(field.type, field.options, value, typecast):
            raise error(
                422, "INVALID_VALUE_FOR_COLUMN", f'Field "{field.name}" cannot accept the provided value'
            )
        checked[field.name] = value
    return checked


DATE_TEXT = {
    "us": "{d.month}/{d.day}/{d.year}",
    "local": "{d.month}/{d.day}/{d.year}",
    "european": "{d.day}/{d.month}/{d.year}",
    "friendly": "{d:%B} {d.day}, {d.year}",
}


def cell_text(field: Field, value: Any) -> str:
    """A value as Airtable's ``cellFormat=string`` shows it (the stand-in's field types)."""
    options = field.options or {}
    if field.type in ("number", "currency", "percent") and is_number(value):
        precision = int(options.get("precision", 0))
        if field.type == "currency":
            return f"{options.get('symbol', '$')}{value:,.{precision}f}"
        if field.type == "percent":
            return f"{value * 100:.{precision}f}%"
        return f"{value:.{precision}f}"
    if field.type == "date" and is_date(value):
        name = options.get("dateFormat", {}).get("name", "iso")
        return DATE_TEXT[name].format(d=date.fromisoformat(value)) if name in DATE_TEXT else value
    if field.type == "checkbox":
        return "checked" if value else ""
    return value if isinstance(value, str) else json.dumps(value)


def record_json(
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
                cell_text(field, value) if cell_format == "string" else value
            )
    return {"id": record.id, "createdTime": record.created_time, "fields": fields}


def field_named(table: Table, name: str) -> Field:
    field = table.field(name)
    if field is None:
        raise error(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
    return field
