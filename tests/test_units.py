"""The one grammar for durations and sizes (airscope.units) and the click types that use it."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from airscope import units
from airscope.cli._types import Duration, Size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),  # a bare number is seconds, whichever command reads it
        ("0", 0.0),
        ("1.5", 1.5),
        ("500ms", 0.5),
        ("5ms", 0.005),  # milliseconds, not five minutes and an s
        ("30s", 30.0),
        ("1.5m", 90.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("2m30.5s", 150.5),
        (" 10 M ", 600.0),
        (".5s", 0.5),
    ],
)
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert units.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (units.parse_duration, text)
        for text in ("", "abc", "-5s", "10x", "30m1h", "1m1m", "1h30", "s", "1e3", "nan")
    ]
    + [(units.parse_size, text) for text in ("", "MB", "-1MB", "50M", "10 TB", "ten", "inf")],
)
def test_a_malformed_value_is_refused_with_the_grammar(parse, text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse(text)
    assert repr(text) in str(error.value)
    grammar = units.DURATION_GRAMMAR if parse is units.parse_duration else units.SIZE_GRAMMAR
    assert str(error.value).endswith(grammar.replace("`", ""))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (0.0123, "12.3ms"),
        (1.5, "1.5s"),
        (90, "1m30s"),
        (3600, "1h"),
        (604800, "7d"),
    ],
)
def test_durations_format_as_the_grammar_reads_them(seconds: float, text: str) -> None:
    assert units.format_duration(seconds) == text
    assert units.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("seconds", [0.001, 0.25, 1, 59.9, 61, 3599, 3601.5, 86399, 90061, 10**6])
def test_formatted_durations_read_back(seconds: float) -> None:
    assert units.parse_duration(units.format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1000", 1000),  # a bare number is bytes
        ("0", 0),
        ("812B", 812),
        ("50MB", 50_000_000),
        ("50mb", 50_000_000),
        ("1.5GB", 1_500_000_000),
        ("500KB", 500_000),
        ("512KiB", 512 * 1024),
        ("50MiB", 50 * 1024**2),
        ("1 GiB", 1024**3),
    ],
)
def test_sizes_parse_to_bytes(text: str, size: int) -> None:
    assert units.parse_size(text) == size


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (812, "812B"), (50_000_000, "50MB"), (10 * 1024**2, "10MiB"), (52_428_801, "52.4MB")],
)
def test_sizes_format_short(size: int, text: str) -> None:
    assert units.format_size(size) == text


@pytest.mark.parametrize("size", [1, 999, 1000, 1024, 4096, 10**6, 3 * 1024**3])
def test_exact_sizes_read_back(size: int) -> None:
    assert units.parse_size(units.format_size(size)) == size


def test_the_grammars_are_one_line_of_markdown() -> None:
    for grammar in (units.DURATION_GRAMMAR, units.SIZE_GRAMMAR):
        assert "\n" not in grammar
        assert grammar.count("`") % 2 == 0


def _echo(param_type: click.ParamType, default: object = None) -> click.Command:
    @click.command()
    @click.option("--value", type=param_type, default=default)
    def command(value: object) -> None:
        click.echo(repr(value))

    return command


def test_the_click_types_convert_with_the_grammar() -> None:
    runner = CliRunner()
    assert runner.invoke(_echo(Duration()), ["--value", "1h30m"]).output == "5400.0\n"
    assert runner.invoke(_echo(Duration(), default="2m")).output == "120.0\n"
    assert runner.invoke(_echo(Duration(), default=30)).output == "30.0\n"
    assert runner.invoke(_echo(Size()), ["--value", "50MiB"]).output == f"{50 * 1024**2}\n"
    assert runner.invoke(_echo(Duration(positive=False)), ["--value", "0"]).output == "0.0\n"


def test_the_click_types_refuse_a_typo_with_the_grammar() -> None:
    runner = CliRunner()
    result = runner.invoke(_echo(Duration()), ["--value", "10x"])
    assert result.exit_code == 2
    assert "a bare number means seconds" in result.output
    result = runner.invoke(_echo(Duration()), ["--value", "0s"])
    assert result.exit_code == 2
    assert "must be more than 0" in result.output
    result = runner.invoke(_echo(Size()), ["--value", "lots"])
    assert result.exit_code == 2
    assert "a bare number means bytes" in result.output
