"""The text answers, built from the tool results (partial results say so)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from airscope.standins.llm.rules.conversation import TableInfo, listed_tables, omitted_count, tables_partial

_MAX_NAMES = 20
_MAX_TITLE_CHARS = 120
_MAX_VALUE_CHARS = 300
_OP_LABELS = {"sum": "total", "avg": "average", "min": "minimum", "max": "maximum"}


# Answers -----------------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    return shown if len(names) <= _MAX_NAMES else f"{shown} and {len(names) - _MAX_NAMES} more"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    # Shown to two decimals, so a sum like 10888.999999999998 is a whole 10,889, not "10,889.00".
    shown = round(value, 2)
    if float(shown).is_integer():
        return f"{int(shown):,}"
    return f"{shown:,.2f}"


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        text = ", ".join(_value_text(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int | float):
        text = str(value)
    else:
        text = str(value)
    return _short(text, _MAX_VALUE_CHARS)


def format_fields(fields: Mapping[str, Any], order: Iterable[str] = ()) -> str:
    names = [n for n in order if n in fields] + [n for n in fields if n not in set(order)]
    return "; ".join(f"{name}: {_value_text(fields[name])}" for name in names)


def record_title(record: Mapping[str, Any], primary: str | None) -> str:
    fields = record.get("fields") if isinstance(record.get("fields"), dict) else {}
    value = fields.get(primary) if primary else None
    if value in (None, ""):
        value = next((v for v in fields.values() if v not in (None, "")), record.get("id", "?"))
    return _short(_value_text(value), _MAX_TITLE_CHARS)


def answer_bases(result: dict[str, Any]) -> str:
    bases = result.get("bases", [])
    if not bases:
        return "You have no bases."
    listed = [f"{b.get('name', '?')} ({b.get('id', '?')})" for b in bases]
    return f"You have {_plural(len(bases), 'base')}: {_names(listed)}."


def answer_tables(result: dict[str, Any], base_name: str, *, matching: str = "", offset: int = 0) -> str:
    names = [t.name for t in listed_tables(result)]
    which = f' matching "{matching}"' if matching else ""
    if not tables_partial(result):
        if not names:
            return f"The base {base_name} has no tables{which}."
        return f"The base {base_name} has {_plural(len(names), 'table')}{which}: {_names(names)}."
    total = result.get("total")
    if isinstance(total, int) and total >= len(names):
        head = f"The base {base_name} has {_plural(total, 'table')}{which}"
    else:
        head = f"The base {base_name} has more than {_plural(len(names), 'table')}{which}"
    if not names:
        return f"{head} (partial list: none of them came back)."
    part = f"the first {len(names)}" if offset == 0 else f"{len(names)} from number {offset + 1:,}"
    return f"{head}; {part}: {', '.join(names)} (partial list)."


def answer_count(result: dict[str, Any], table: str, where: tuple[str, str] | None = None) -> str:
    count = result.get("count", 0)
    condition = f' with {where[0]} "{where[1]}"' if where else ""
    if result.get("capped") is True:
        return f"There are at least {_plural(count, 'record')} in {table}{condition}."
    if count == 1:
        return f"There is 1 record in {table}{condition}."
    return f"There are {count:,} records in {table}{condition}."


def answer_search(
    result: dict[str, Any],
    table: str,
    query: str,
    *,
    primary: str | None = None,
    limit: int | None = None,
) -> str:
    records = [r for r in result.get("records", []) if isinstance(r, dict)]
    titles = [record_title(r, primary) for r in records]
    omitted = omitted_count(result, "records")
    more = result.get("more") is True
    matching = f' matching "{query}"' if query else ""
    got, returned = len(records), len(records) + omitted
    if not more and not omitted:
        if not titles:
            return f"Found no records in {table}{matching}."
        return f"Found {_plural(got, 'record')} in {table}{matching}: {', '.join(titles)}."
    if limit is not None and not omitted and got >= limit:
        verb = "is" if got == 1 else "are"
        return f"Here {verb} the first {_plural(got, 'record')} in {table}{matching}: {', '.join(titles)}."
    found = f"more than {returned:,}" if more else f"{returned:,}"
    if not titles:
        return f"Found {found} records in {table}{matching}, but none of them came back (partial list)."
    return f"Found {found} records in {table}{matching}; the first {got}: {', '.join(titles)} (partial list)."


def answer_record(result: dict[str, Any], table: TableInfo, verb: str = "Record") -> str:
    fields = result.get("fields") if isinstance(result.get("fields"), dict) else {}
    record_id = result.get("id", "?")
    if not fields:
        return f"{verb} {record_id} in {table.name} has no field values."
    return f"{verb} {record_id} in {table.name}: {format_fields(fields, table.fields)}."


def answer_aggregate(result: dict[str, Any], table: str) -> str:
    op = result.get("op", "sum")
    label = _OP_LABELS.get(op, op)
    values = result.get("values")
    counted = _plural(values, "value") if isinstance(values, int) else "?"
    partial = "; partial: not every record was read" if result.get("capped") is True else ""
    return f"The {label} {result.get('field', '?')} of {table} is {format_number(result.get('value'))} ({counted}{partial})."
