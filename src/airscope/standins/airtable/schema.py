"""What a new table or field may be: names, descriptions, field types and their options."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from airscope.standins.airtable.errors import AirtableError, error
from airscope.standins.airtable.model import NewField

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


def encode_bases_offset(start: int) -> str:
    return base64.urlsafe_b64encode(f"bases:{start}".encode()).decode().rstrip("=")


def decode_bases_offset(offset: str) -> int:
    try:
        kind, start = base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4)).decode().split(":")
        if kind == "bases" and int(start) >= 0:
            return int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise error(422, "INVALID_OFFSET_VALUE", "The offset is not valid for this list of bases")


def checked_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise error(
            422,
            "INVALID_REQUEST_UNKNOWN",
            f"Invalid request: {what} must be 1 to {MAX_NAME_CHARS} characters",
        )
    return value.strip()


def checked_description(payload: dict[str, Any]) -> str | None:
    description = payload.get("description")
    if description is not None and not isinstance(description, str):
        raise error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: 'description' must be a string")
    return description


def check_options(name: str, field_type: str, options: dict[str, Any]) -> None:
    """What the stand-in reads of a new field's options has the types Airtable requires."""

    def bad(what: str) -> AirtableError:
        return error(422, "INVALID_FIELD_TYPE_OPTIONS", f"Invalid options for field {name!r}: {what}")

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


def new_fields(items: Any) -> list[NewField]:
    if not isinstance(items, list) or not items:
        raise error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: 'fields' must be a non-empty list")
    fields, seen = [], set()
    for item in items:
        if not isinstance(item, dict):
            raise error(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: every field must be an object")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or name.strip().lower() in seen:
            raise error(
                422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f"Field names must be unique and non-empty: {name!r}"
            )
        seen.add(name.strip().lower())
        if item.get("type") not in FIELD_TYPES:
            raise error(
                422, "INVALID_FIELD_TYPE", f"Unsupported field type {item.get('type')!r} for {name!r}"
            )
        options = item.get("options")
        if options is not None and not isinstance(options, dict):
            raise error(
                422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: options of {name!r} must be an object"
            )
        check_options(name, item["type"], options or {})
        fields.append(NewField(name.strip(), item["type"], options))
    return fields


def name_taken(name: str) -> AirtableError:
    return error(422, "DUPLICATE_TABLE_NAME", f'A table named "{name}" already exists in this base')
