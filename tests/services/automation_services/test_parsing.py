"""Parsing uploads: CSV with a header row, JSON arrays of flat objects, and clear refusals."""

from __future__ import annotations

import pytest

from airscope.services.automation_services.parsing import ParseError, detect_type, parse


def test_csv_rows_are_keyed_by_the_header_and_empty_cells_left_out() -> None:
    parsed = parse(b"Name,SKU,Price\r\nWidget,SKU-1,9.5\r\nGadget,,12\r\n", "csv")
    assert parsed.columns == ("Name", "SKU", "Price")
    assert parsed.rows == (
        {"Name": "Widget", "SKU": "SKU-1", "Price": "9.5"},
        {"Name": "Gadget", "Price": "12"},
    )


def test_csv_tolerates_a_byte_order_mark_quotes_and_short_rows() -> None:
    content = '\ufeffName,Notes\n"Smith, Jo","said ""hi""\nthen left"\nAlone\n'.encode()
    parsed = parse(content, "csv")
    assert parsed.columns == ("Name", "Notes")
    assert parsed.rows == ({"Name": "Smith, Jo", "Notes": 'said "hi"\nthen left'}, {"Name": "Alone"})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"Name,Price\n", "no data rows"),
        (b"Name,,Price\na,b,c\n", "column 2 of the header has no name"),
        (b"Name,Name\na,b\n", "'Name' twice"),
        (b"Name\na,b\n", "row 1 has more cells"),
        (b"Name\n\xff\xfe\n", "not UTF-8"),
        (b'Name\n"unterminated\n', "malformed"),
    ],
)
def test_bad_csv_files_are_refused_with_the_reason(content: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(content, "csv")


def test_json_array_of_flat_objects_drops_null_and_empty_values() -> None:
    parsed = parse(
        b'[{"Name": "A", "Stock": 3, "Note": null}, {"Name": "B", "SKU": ""}, {"Active": true}]', "json"
    )
    assert parsed.columns == ("Name", "Stock", "Note", "SKU", "Active")
    assert parsed.rows == ({"Name": "A", "Stock": 3}, {"Name": "B"}, {"Active": True})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "not valid JSON"),
        (b'{"Name": "A"}', "must be an array"),
        (b"[]", "no data rows"),
        (b'[{"Name": "A"}, 3]', "row 2 is not an object"),
        (b'[{"Name": {"first": "A"}}]', "row 1: field 'Name' holds a nested value"),
        (b'[{" ": 1}]', "field name is empty"),
    ],
)
def test_bad_json_files_are_refused_with_the_reason(content: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(content, "json")


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("products.CSV", "application/octet-stream", "csv"),
        ("products.json", None, "json"),
        ("upload", "text/csv; charset=utf-8", "csv"),
        (None, "application/json", "json"),
        ("products.xlsx", "application/vnd.ms-excel", None),
        ("notes.txt", "text/plain", None),
    ],
)
def test_the_type_comes_from_the_extension_then_the_media_type(
    filename: str | None, content_type: str | None, expected: str | None
) -> None:
    assert detect_type(filename, content_type) == expected
