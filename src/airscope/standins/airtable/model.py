"""What the stand-in's data is made of: Airtable-style IDs, bases, tables, fields (with their options
completed as Airtable answers them: ``field_options``), views and records."""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_ALPHANUMERIC = string.ascii_letters + string.digits
_ID_LENGTH = 14

GRID_VIEW = "Grid view"
# The colors Airtable gives new single-select choices, in its order.
CHOICE_COLORS = (
    "blueLight2",
    "cyanLight2",
    "tealLight2",
    "greenLight2",
    "yellowLight2",
    "orangeLight2",
    "redLight2",
    "pinkLight2",
    "purpleLight2",
    "grayLight2",
)
# Airtable's date formats: name -> its format string.
DATE_FORMATS = {
    "local": "l",
    "friendly": "LL",
    "us": "M/D/YYYY",
    "european": "D/M/YYYY",
    "iso": "YYYY-MM-DD",
}


def new_id(prefix: str) -> str:
    """An Airtable-style ID: the prefix (rec, tbl, fld) and 14 random letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(_ID_LENGTH))


def stable_id(prefix: str, key: str) -> str:
    """An Airtable-style ID derived from ``key``, so the seed gives the same IDs on every start."""
    digest = hashlib.sha256(key.encode()).digest()
    return prefix + "".join(_ALPHANUMERIC[byte % len(_ALPHANUMERIC)] for byte in digest[:_ID_LENGTH])


def field_options(field_id: str, field_type: str, options: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The options as Airtable answers them: what was given, completed with Airtable's defaults.

    Idempotent, and deterministic for a field (a choice's ID derives from the field's ID and its name),
    so options stored before this existed answer the same on every start.
    """
    given = dict(options or {})
    if field_type == "singleSelect":
        choices = [c for c in given.get("choices") or [] if isinstance(c, Mapping) and "name" in c]
        given["choices"] = [
            {
                "id": choice.get("id") or stable_id("sel", f"{field_id}/{choice['name']}"),
                "name": choice["name"],
                "color": choice.get("color") or CHOICE_COLORS[i % len(CHOICE_COLORS)],
            }
            for i, choice in enumerate(choices)
        ]
        return given
    if field_type in ("number", "percent"):
        return {"precision": 0, **given}
    if field_type == "currency":
        return {"precision": 2, "symbol": "$", **given}
    if field_type == "date":
        date_format = given.get("dateFormat")
        date_format = dict(date_format) if isinstance(date_format, Mapping) else {}
        name = date_format.get("name") if date_format.get("name") in DATE_FORMATS else "iso"
        given["dateFormat"] = {"name": name, "format": DATE_FORMATS[name]}
        return given
    if field_type == "checkbox":
        return {"color": "greenBright", "icon": "check", **given}
    return given or None


@dataclass(frozen=True)
class Field:
    id: str
    name: str
    type: str
    options: dict[str, Any] | None

    @classmethod
    def made(cls, field_id: str, name: str, field_type: str, options: Mapping[str, Any] | None) -> Field:
        """A field with its options completed as Airtable answers them (``field_options``)."""
        return cls(field_id, name, field_type, field_options(field_id, field_type, options))

    def choice_names(self) -> set[str]:
        return {c["name"] for c in (self.options or {}).get("choices", [])}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.options is not None:
            data["options"] = self.options
        return data


class TableNameTaken(Exception):
    """Another table of the base already has this name."""


class FieldNameTaken(Exception):
    """Another field of the table already has this name."""


@dataclass(frozen=True)
class NewField:
    """A field of a table being created (``options`` as the meta API takes them)."""

    name: str
    type: str
    options: dict[str, Any] | None = None


@dataclass(frozen=True)
class Table:
    id: str
    base_id: str
    name: str
    fields: tuple[Field, ...]
    description: str | None = None

    def field(self, name: str) -> Field | None:
        """The field of that name, else of that ID (Airtable takes either where it takes a field)."""
        return next((f for f in self.fields if f.name == name), None) or next(
            (f for f in self.fields if f.id == name), None
        )

    def views(self, visible_field_ids: bool = False) -> list[dict[str, Any]]:
        """Every table's one view: "Grid view", every field visible, every record in creation order."""
        view: dict[str, Any] = {
            "id": stable_id("viw", f"{self.id}/{GRID_VIEW}"),
            "name": GRID_VIEW,
            "type": "grid",
        }
        if visible_field_ids:
            view["visibleFieldIds"] = [f.id for f in self.fields]
        return [view]

    def to_json(self, visible_field_ids: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.description:  # Airtable leaves an empty description out
            data["description"] = self.description
        return {
            **data,
            "primaryFieldId": self.fields[0].id,
            "fields": [f.to_json() for f in self.fields],
            "views": self.views(visible_field_ids),
        }


@dataclass(frozen=True)
class Base:
    id: str
    name: str
    permission_level: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "permissionLevel": self.permission_level}


@dataclass(frozen=True)
class Record:
    id: str
    created_time: str
    fields: dict[str, Any]

    def to_json(self, only: Iterable[str] | None = None) -> dict[str, Any]:
        fields = self.fields if only is None else {k: v for k, v in self.fields.items() if k in set(only)}
        return {"id": self.id, "createdTime": self.created_time, "fields": fields}
