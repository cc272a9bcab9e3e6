"""The one table writer: Markdown as the documents keep it, terminal columns that line up and fit."""

from __future__ import annotations

import pytest

from airscope import tables


def test_markdown_writes_a_header_a_rule_and_one_line_per_row() -> None:
    assert tables.markdown(("a", "b"), [(1, "x"), (2.5, None)]) == (
        "| a | b |\n| --- | --- |\n| 1 | x |\n| 2.5 | None |"
    )


def test_markdown_rules_say_each_columns_alignment() -> None:
    written = tables.markdown(("name", "n", "mid"), [("x", 1, "y")], align="lrc")
    assert written.splitlines()[1] == "| --- | ---: | :---: |"


def test_markdown_without_rows_is_the_header_alone() -> None:
    assert tables.markdown(("a",), []) == "| a |\n| --- |"


@pytest.mark.parametrize("align", ["l", "lrx"])
def test_an_alignment_that_does_not_match_the_columns_is_refused(align: str) -> None:
    with pytest.raises(ValueError, match="one of l, r, c per column"):
        tables.markdown(("a", "b"), [], align=align)


def test_a_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="a row of 1 cells under a header of 2"):
        tables.text(("a", "b"), [("x",)])


def test_text_lines_columns_up_without_trailing_spaces() -> None:
    written = tables.text(
        ("program", "MiB", "note"), [("api-gateway", "70.0", ""), ("x", "1234.5", "ok")], "lrl"
    )
    assert written.splitlines() == [
        "program         MiB  note",
        "api-gateway    70.0",
        "x            1234.5  ok",
    ]


def test_text_cuts_the_widest_free_text_column_to_fit_80_columns() -> None:
    rows = [("q" * 70, "12,345", "6,000"), ("short", "1", "-")]
    written = tables.text(("question", "tokens", "before"), rows, align="lrr")
    lines = written.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[1].endswith("12,345   6,000")
    assert lines[1].startswith("q" * 10) and "…" in lines[1]


def test_text_keeps_figures_whole_when_nothing_else_can_give_way() -> None:
    written = tables.text(("n",), [("9" * 100,)], align="r")
    assert written.splitlines()[1] == "9" * 100
