"""Uploaded files to Airtable records: CSV (header row = field names) or a JSON array of flat objects.

Pure functions: bytes in, rows out, or a ``ParseError`` whose message tells the uploader what to
fix. Rows are numbered from 1 among the data rows (a CSV's header is not counted), the numbers
that import errors refer to.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Literal

FileType = Literal["csv", "json"]

_EXTENSIONS: dict[str, FileType] = {".csv": "csv", ".json": "json"}
_MEDIA_TYPES: dict[str, FileType] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "text/json": "json",
}


class ParseError(ValueError):
    """The file cannot be imported as it is; the message says why."""


@dataclass(frozen=True)
class ParsedFile:
    columns: tuple[str, ...]
    # Each row's fields, without empty cells (Airtable would reject "" for a number or a date).
    rows: tuple[dict[str, Any], ...]


def detect_type(filename: str | None, content_type: str | None) -> FileType | None:
    """csv or json from the file name's extension, else from its media type; None when neither says."""
    name = (filename or "").lower()
    for extension, file_type in _EXTENSIONS.items():
        if name.endswith(extension):
            return file_type
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return _MEDIA_TYPES.get(media_type)


def parse(content: bytes, file_type: FileType) -> ParsedFile:
    text = _decode(content)
    parsed = parse_csv(text) if file_type == "csv" else parse_json(text)
    if not parsed.rows:
        raise ParseError("the file has no data rows")
    return parsed


def _decode(content: bytes) -> str:
    try:
        # utf-8-sig drops the byte order mark spreadsheet programs put in front of CSV exports.
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"the file is not UTF-8 text (invalid byte at offset {exc.start})") from None


def parse_csv(text: str) -> ParsedFile:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames
        if not header:
            raise ParseError("the CSV file is empty: the first row must name the fields")
        columns = tuple(name.strip() for name in header)
        _check_columns(columns)
        rows = []
        for number, row in enumerate(reader, start=1):
            if None in row:
                raise ParseError(f"row {number} has more cells than the header has columns")
            rows.append({column: value for column, value in zip(columns, row.values(), strict=True) if value})
    except csv.Error as exc:
        raise ParseError(f"the CSV is malformed at line {reader.line_num}: {exc}") from None
    return ParsedFile(columns=columns, rows=tuple(rows))


def _check_columns(columns: tuple[str, ...]) -> None:
    if any(not column for column in columns):
        position = next(i for i, column in enumerate(columns, start=1) if not column)
        raise ParseError(f"column {position} of the header has no name")
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise ParseError(f"the header names the column {column!r} twice")
        seen.add(column)


def parse_json(text: str) -> ParsedFile:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"the file is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(document, list):
        raise ParseError("the JSON file must be an array of objects, one per record")
    columns: dict[str, None] = {}
    rows = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise ParseError(f"row {number} is not an object")
        for key, cell in item.items():
            if isinstance(cell, (dict, list)):
                raise ParseError(
                    f"row {number}: field {key!r} holds a nested value; only flat objects import"
                )
            columns.setdefault(key)
        rows.append({key: cell for key, cell in item.items() if cell is not None and cell != ""})
    if any(not column.strip() for column in columns):
        raise ParseError("a field name is empty")
    return ParsedFile(columns=tuple(columns), rows=tuple(rows))
