"""Airtable formulas (``filterByFormula``) built from tool arguments.

Every value a caller supplies lands inside a string literal or a ``{field}`` reference, never in
the formula's syntax: a query such as ``x") , TRUE(), ("`` must stay text to search for, not
become a condition that matches every record.
"""

from __future__ import annotations

from collections.abc import Sequence


class FormulaError(ValueError):
    """A tool argument cannot be put into a formula safely."""


def string_literal(value: str) -> str:
    """``value`` as an Airtable string literal: backslash first, so the quote's escape survives."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def field_reference(name: str) -> str:
    """``{name}``; Airtable has no escape for ``}`` inside a reference, so such a name is refused."""
    if not name.strip():
        raise FormulaError("a field name must not be empty")
    if "}" in name:
        raise FormulaError(f"field name {name!r} contains '}}', which an Airtable formula cannot reference")
    return "{" + name + "}"


def contains_text(query: str, field: str) -> str:
    """Case-insensitive "``field`` contains ``query``" (SEARCH answers 0, which is false, when absent)."""
    return f"SEARCH(LOWER({string_literal(query)}), LOWER({field_reference(field)}))"


def search_formula(query: str, fields: Sequence[str]) -> str:
    """Records where any of ``fields`` contains ``query``."""
    if not fields:
        raise FormulaError("there is no field to search in")
    conditions = [contains_text(query, field) for field in fields]
    if len(conditions) == 1:
        return conditions[0]
    return f"OR({', '.join(conditions)})"


def equals_formula(field: str, value: str) -> str:
    """Records whose ``field`` equals ``value`` (Airtable compares a number field with "5" as 5)."""
    return f"{field_reference(field)} = {string_literal(value)}"
