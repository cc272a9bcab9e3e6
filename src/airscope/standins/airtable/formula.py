"""The subset of Airtable's formula language that ``filterByFormula`` accepts in the stand-in.

Supported (what mcp-server emits, and what pyairtable's ``match()`` and comparison helpers build):

- string literals in double quotes, with the escapes ``\\"`` and ``\\\\`` (nothing else), or in
  single quotes, with ``\\'`` and ``\\\\`` (pyairtable's ``quoted()``); numbers (``42``, ``-1.5``);
  field references ``{Field Name}`` (no ``}`` inside);
- ``LOWER(x)``; ``SEARCH(needle, haystack)`` (1-based position, 0 when absent);
  ``AND(a, ...)``, ``OR(a, ...)``; ``RECORD_ID()``; ``a = b``; ``a < b``, ``a > b``, ``a <= b``, ``a >= b``.

Function names are case-insensitive, as in Airtable. ``=`` compares numbers as numbers (a number
and a numeric string too) and everything else as text, case-sensitively; a blank field is ``""``.
The orderings compare numbers as numbers (a blank field as 0) and everything else as text.
A record is kept when the formula's value is truthy (non-zero number, non-empty text, true).
Anything else — another function, operator, an unknown field — is rejected with
:class:`FormulaError`, which the app answers as Airtable's 422 ``INVALID_FILTER_BY_FORMULA``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any


class FormulaError(ValueError):
    """The formula is outside the supported subset or refers to unknown fields."""


@dataclass(frozen=True)
class Row:
    record_id: str
    fields: Mapping[str, Any]


Expr = Callable[[Row], Any]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<field>\{[^{}]*\})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct><=|>=|[(),=<>])
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(literal: str) -> str:
    quote = literal[0]

    def one(match: re.Match[str]) -> str:
        if match.group(1) not in (quote, "\\"):
            raise FormulaError(f"unsupported escape \\{match.group(1)} in a string")
        return match.group(1)

    return _ESCAPE.sub(one, literal[1:-1])


def _tokens(formula: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(formula.rstrip()):
        match = _TOKEN.match(formula, position)
        if match is None or match.lastgroup is None:
            raise FormulaError(
                f"unexpected text at position {position}: {formula[position : position + 20]!r}"
            )
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _equals(left: Any, right: Any) -> bool:
    if isinstance(left, int | float) or isinstance(right, int | float):
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return a == b
    return _text(left) == _text(right)


def _ordered(operator: str, left: Any, right: Any) -> bool:
    a, b = _number(0 if left in (None, "") else left), _number(0 if right in (None, "") else right)
    pair: tuple[Any, Any] = (a, b) if a is not None and b is not None else (_text(left), _text(right))
    return {
        "<": pair[0] < pair[1],
        ">": pair[0] > pair[1],
        "<=": pair[0] <= pair[1],
        ">=": pair[0] >= pair[1],
    }[operator]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    return bool(value)


def _search(needle: Any, haystack: Any) -> int:
    return _text(haystack).find(_text(needle)) + 1


# name -> (number of arguments, None for one or more; builder from the argument expressions)
_FUNCTIONS: dict[str, tuple[int | None, Callable[[list[Expr]], Expr]]] = {
    "LOWER": (1, lambda a: lambda row: _text(a[0](row)).lower()),
    "SEARCH": (2, lambda a: lambda row: _search(a[0](row), a[1](row))),
    "AND": (None, lambda a: lambda row: all(_truthy(arg(row)) for arg in a)),
    "OR": (None, lambda a: lambda row: any(_truthy(arg(row)) for arg in a)),
    "RECORD_ID": (0, lambda a: lambda row: row.record_id),
}


class _Parser:
    def __init__(self, formula: str, field_names: Collection[str]) -> None:
        self.tokens = _tokens(formula)
        self.position = 0
        self.field_names = field_names

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (text is not None and token[1] != text):
            found = "the end" if token is None else repr(token[1])
            raise FormulaError(f"expected {text or kind}, found {found}")
        self.position += 1
        return token[1]

    def formula(self) -> Expr:
        expr = self.comparison()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()[1]!r} after the end of the formula")
        return expr

    def comparison(self) -> Expr:
        left = self.term()
        token = self.peek()
        if token == ("punct", "="):
            self.position += 1
            right = self.term()
            return lambda row: _equals(left(row), right(row))
        if token is not None and token[0] == "punct" and token[1] in ("<", ">", "<=", ">="):
            self.position += 1
            right, operator = self.term(), token[1]
            return lambda row: _ordered(operator, left(row), right(row))
        return left

    def term(self) -> Expr:
        token = self.peek()
        if token is None:
            raise FormulaError("the formula ends too early")
        kind, text = token
        if kind == "string":
            self.position += 1
            value = _unescape(text)
            return lambda row: value
        if kind == "number":
            self.position += 1
            number = float(text)
            return lambda row: number
        if kind == "field":
            self.position += 1
            name = text[1:-1]
            if name not in self.field_names:
                raise FormulaError(f"Unknown field names: {name}")
            return lambda row: row.fields.get(name)
        if kind == "name":
            return self.call()
        raise FormulaError(f"unexpected {text!r}")

    def call(self) -> Expr:
        name = self.take("name").upper()
        if name not in _FUNCTIONS:
            raise FormulaError(f"unsupported function {name}")
        arity, build = _FUNCTIONS[name]
        self.take("punct", "(")
        args: list[Expr] = []
        if self.peek() != ("punct", ")"):
            args.append(self.comparison())
            while self.peek() == ("punct", ","):
                self.position += 1
                args.append(self.comparison())
        self.take("punct", ")")
        if (arity is None and not args) or (arity is not None and len(args) != arity):
            raise FormulaError(f"{name} takes {'at least 1' if arity is None else arity} argument(s)")
        return build(args)


def compile_formula(formula: str, field_names: Collection[str]) -> Callable[[Row], bool]:
    """The formula as a predicate over rows; raises FormulaError when it is outside the subset."""
    expr = _Parser(formula, field_names).formula()
    return lambda row: _truthy(expr(row))
