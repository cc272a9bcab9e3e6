"""Grafana's time-range grammar, read on the server: ``from``/``to`` exactly as the URL gives them.

``now``, ``now-1h``, ``now-7d/d`` (date math: units ``s m h d w M y``, an optional ``/unit`` rounds to
the start of that unit for ``from`` and to its end for ``to``, as Grafana does), epoch milliseconds
(``1700000000000``, what Grafana writes into a URL for an absolute range) and ISO 8601 dates. Rounding
uses UTC: the console's dashboards say ``"timezone": "browser"``, but the server does not know the
browser's zone and UTC keeps a link's meaning the same for everyone who opens it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from airscope.errors import AirscopeError

GRAMMAR = (
    "a time is `now`, `now-<n><unit>` with unit s, m, h, d, w, M or y (`now-1h`, `now-7d`), optionally "
    "rounded with `/<unit>` (`now/d`, `now-1d/d`), epoch milliseconds (`1700000000000`) or an ISO 8601 "
    "date (`2026-01-31T12:00:00Z`)"
)

_UNITS = "smhdwMy"
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MATH = re.compile(r"([+-])(\d+)([smhdwMy])|/([smhdwMy])")


class TimeRangeError(AirscopeError):
    """A ``from`` or ``to`` outside Grafana's grammar, or a range that ends before it starts."""


@dataclass(frozen=True)
class TimeRange:
    """The range a panel covers: epoch milliseconds, and the text it came from (for links and labels)."""

    from_ms: int
    to_ms: int
    raw_from: str
    raw_to: str

    @property
    def span_ms(self) -> int:
        return self.to_ms - self.from_ms


def now_ms() -> int:
    return int(time.time() * 1000)


def parse(text: str, *, now: int | None = None, round_up: bool = False, name: str = "time") -> int:
    """Epoch milliseconds of ``text``; ``round_up`` rounds ``/unit`` to the unit's end (for ``to``)."""
    value = str(text).strip()
    if not value:
        raise TimeRangeError(f"{name} is empty: {GRAMMAR}")
    if value.isdigit():
        return int(value)
    if value.startswith("now"):
        return _date_math(value, now if now is not None else now_ms(), round_up, name)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise TimeRangeError(f"{name} {value!r} is not a time: {GRAMMAR}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _date_math(value: str, now: int, round_up: bool, name: str) -> int:
    moment = datetime.fromtimestamp(now / 1000, UTC)
    rest, position = value[3:], 0
    while position < len(rest):
        match = _MATH.match(rest, position)
        if match is None:
            raise TimeRangeError(f"{name} {value!r} is not a time: {GRAMMAR}")
        sign, amount, unit, rounding = match.groups()
        if rounding:
            moment = _round(moment, rounding, round_up)
        else:
            moment = _add(moment, (1 if sign == "+" else -1) * int(amount), unit)
        position = match.end()
    return int(moment.timestamp() * 1000)


def _add(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in _SECONDS:
        return moment + timedelta(seconds=amount * _SECONDS[unit])
    months = moment.month - 1 + amount * (12 if unit == "y" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    # Like moment.js (Grafana's date math): the 31st of a shorter month becomes its last day.
    day = min(moment.day, _month_days(year, month))
    return moment.replace(year=year, month=month, day=day)


def _month_days(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return (following - timedelta(days=1)).day


def _round(moment: datetime, unit: str, up: bool) -> datetime:
    if unit == "s":
        start = moment.replace(microsecond=0)
    elif unit == "m":
        start = moment.replace(second=0, microsecond=0)
    elif unit == "h":
        start = moment.replace(minute=0, second=0, microsecond=0)
    elif unit == "d":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":
        # moment.js' startOf("isoWeek") is what Grafana uses for /w with weeks starting Monday.
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=day.weekday())
    elif unit == "M":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if not up:
        return start
    # The unit's last millisecond, as Grafana's roundUp gives (endOf the unit).
    return _add(start, 1, unit) - timedelta(milliseconds=1)


def resolve(raw_from: str, raw_to: str, *, now: int | None = None) -> TimeRange:
    """The range ``from``..``to`` means now; ``TimeRangeError`` when either is unreadable or ``to`` < ``from``."""
    at = now if now is not None else now_ms()
    start = parse(raw_from, now=at, name="from")
    end = parse(raw_to, now=at, round_up=True, name="to")
    if end < start:
        raise TimeRangeError(
            f"the time range ends before it starts: to={raw_to!r} is before from={raw_from!r}; "
            "pick a `to` later than `from`"
        )
    return TimeRange(start, end, str(raw_from), str(raw_to))
