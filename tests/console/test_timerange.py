"""console.timerange: Grafana's from/to grammar (date math, rounding, epoch ms, ISO) and its errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airscope.console.timerange import TimeRangeError, parse, resolve


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


NOW = ms(2026, 3, 31, 14, 35, 20) + 123


@pytest.mark.parametrize(
    ("text", "round_up", "expected"),
    [
        ("now", False, NOW),
        ("now-1h", False, NOW - 3_600_000),
        ("now-15m", False, NOW - 900_000),
        ("now-30s", False, NOW - 30_000),
        ("now-7d", False, NOW - 7 * 86_400_000),
        ("now-2w", False, NOW - 14 * 86_400_000),
        ("now+1h", False, NOW + 3_600_000),
        ("now/d", False, ms(2026, 3, 31)),
        ("now/d", True, ms(2026, 4, 1) - 1),
        ("now-1d/d", False, ms(2026, 3, 30)),
        ("now-1d/d", True, ms(2026, 3, 31) - 1),
        ("now/h", False, ms(2026, 3, 31, 14)),
        ("now/w", False, ms(2026, 3, 30)),  # a Monday
        ("now/M", False, ms(2026, 3, 1)),
        ("now/y", True, ms(2027, 1, 1) - 1),
        ("now-1M", False, ms(2026, 2, 28, 14, 35, 20) + 123),  # the 31st of a shorter month is its last day
        ("now-1y", False, ms(2025, 3, 31, 14, 35, 20) + 123),
        ("1700000000000", False, 1_700_000_000_000),
        ("2026-01-31T12:00:00Z", False, ms(2026, 1, 31, 12)),
        ("2026-01-31 12:00:00", False, ms(2026, 1, 31, 12)),
        ("2026-01-31T13:00:00+01:00", False, ms(2026, 1, 31, 12)),
    ],
)
def test_grafana_time_grammar(text: str, round_up: bool, expected: int):
    assert parse(text, now=NOW, round_up=round_up) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "now-1x", "now-", "now-1h-", "now/q", "-1h"])
def test_a_time_outside_the_grammar_names_it(text: str):
    with pytest.raises(TimeRangeError, match="now-<n><unit>"):
        parse(text, now=NOW, name="from")


def test_resolve_keeps_the_raw_text_and_rounds_to_up():
    found = resolve("now-1d/d", "now-1d/d", now=NOW)
    assert (found.from_ms, found.to_ms) == (ms(2026, 3, 30), ms(2026, 3, 31) - 1)
    assert (found.raw_from, found.raw_to, found.span_ms) == ("now-1d/d", "now-1d/d", 86_400_000 - 1)


def test_a_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(TimeRangeError, match=r"ends before it starts.*to='now-2h'.*from='now-1h'"):
        resolve("now-1h", "now-2h", now=NOW)
    with pytest.raises(TimeRangeError, match="from 'soon' is not a time"):
        resolve("soon", "now", now=NOW)
