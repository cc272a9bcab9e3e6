from __future__ import annotations

import re

import pytest

from airscope.services.mcp_server.formula import (
    FormulaError,
    contains_text,
    equals_formula,
    field_reference,
    search_formula,
    string_literal,
)

# An Airtable string literal: a quote, then escaped characters or anything but a quote or a
# backslash, then the closing quote.
LITERAL = re.compile(r'"(?:\\.|[^"\\])*"')


def unescape(literal: str) -> str:
    assert LITERAL.fullmatch(literal), literal
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        'say "hi"',
        "back\\slash",
        "ends with \\",
        '\\"',
        'x") , TRUE(), ("',
        "line\nbreak",
        "{Name}",
    ],
)
def test_string_literal_is_one_literal_that_reads_back_as_the_value(value: str) -> None:
    assert unescape(string_literal(value)) == value


def test_string_literal_escapes_backslash_before_quote() -> None:
    assert string_literal('a\\"b') == '"a\\\\\\"b"'


def test_injection_attempt_stays_inside_the_search_literal() -> None:
    attack = 'x") , TRUE(), ("'
    formula = contains_text(attack, "Name")

    assert formula == 'SEARCH(LOWER("x\\") , TRUE(), (\\""), LOWER({Name}))'
    # Outside string literals only the intended syntax is left: no TRUE() slipped out.
    assert LITERAL.sub('""', formula) == 'SEARCH(LOWER(""), LOWER({Name}))'


def test_injection_attempt_with_a_trailing_backslash_cannot_unescape_the_closing_quote() -> None:
    attack = "x\\"
    formula = equals_formula("Status", attack + '") OR TRUE() OR ("')

    assert LITERAL.sub('""', formula) == '{Status} = ""'


def test_field_reference_wraps_the_name() -> None:
    assert field_reference("Full name") == "{Full name}"


@pytest.mark.parametrize("name", ["", "   ", "Name} , TRUE(), {x", "}"])
def test_field_reference_refuses_names_it_cannot_reference(name: str) -> None:
    with pytest.raises(FormulaError):
        field_reference(name)


def test_search_formula_over_one_field_is_a_single_search() -> None:
    assert search_formula("ada", ["Name"]) == 'SEARCH(LOWER("ada"), LOWER({Name}))'


def test_search_formula_over_several_fields_is_an_or() -> None:
    assert search_formula("ada", ["Name", "Email"]) == (
        'OR(SEARCH(LOWER("ada"), LOWER({Name})), SEARCH(LOWER("ada"), LOWER({Email})))'
    )


def test_search_formula_needs_a_field() -> None:
    with pytest.raises(FormulaError, match="no field"):
        search_formula("ada", [])


def test_equals_formula_compares_with_a_string_literal() -> None:
    assert equals_formula("Status", 'VIP "gold"') == '{Status} = "VIP \\"gold\\""'
