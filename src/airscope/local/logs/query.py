"""What ``airscope logs`` asks for (``Query``), the lines it gets (``Line``), and the ``Matcher`` that
decides which lines of one program match: literals first, parsed fields after."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from airscope.local.logs.files import base
from airscope.local.logs.timestamps import format_timestamp

LEVELS = ("debug", "info", "warning", "error", "critical")
RANK = {name: rank for rank, name in enumerate(LEVELS)} | {"warn": 2, "fatal": 4}
SINCE_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class Query:
    services: frozenset[str] = frozenset()
    level: str | None = None  # this level and above
    trace: str | None = None  # 32 lowercase hex digits
    since: datetime | None = None
    grep: str | None = None  # a substring of the raw line
    limit: int = 200  # the last N matching lines; 0: all

    @property
    def json_only(self) -> bool:
        """Whether a filter needs a JSON field, which plain-text lines do not have."""
        return self.level is not None or self.trace is not None


@dataclass(frozen=True, slots=True)
class Line:
    key: str  # RFC 3339 UTC with milliseconds: the order lines are merged in
    program: str  # the supervisord program that wrote it: api-gateway, api-gateway@2, postgres...
    raw: bytes  # without its newline
    fields: dict | None  # None: a plain-text line


class Matcher:
    """Decides which lines of one program match a query: literals first, parsed fields after."""

    def __init__(self, query: Query, program: str) -> None:
        self.query = query
        self.program = program
        self.min_rank = RANK[query.level] if query.level else None
        self.since = format_timestamp(query.since) if query.since else None
        self.since_seconds = query.since.timestamp() if query.since else float("-inf")
        # A program's lines are in time order, but for clock steps: past this, no older line can match.
        self.older_than_since = format_timestamp(query.since - SINCE_SLACK) if query.since else ""
        # Plain lines of this program match --service through its name; its JSON lines need the field.
        self.text_allowed = not query.json_only and (not query.services or base(program) in query.services)
        groups = self._literal_groups()
        self.primary = groups[0] if groups else None
        self.rest = groups[1:]

    def _literal_groups(self) -> list[tuple[bytes, ...]]:
        """Literals every matching line contains, most selective first; one of each tuple."""
        query = self.query
        groups: list[tuple[bytes, ...]] = []
        if query.trace:
            groups.append((query.trace.encode(),))
        if query.grep:
            groups.append((query.grep.encode(),))
        if self.min_rank is not None:
            groups.append(tuple(f'"{name}"'.encode() for name, rank in RANK.items() if rank >= self.min_rank))
        if query.services and not self.text_allowed:
            groups.append(tuple(f'"{service}"'.encode() for service in sorted(query.services)))
        return groups

    def spans(self, buf: bytes, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """(start, end) of the lines of buf[lo:hi] holding the primary literal, last first."""
        if self.primary is None:
            yield from lines_backward(buf, lo, hi)
            return
        found = {needle: buf.rfind(needle, lo, hi) for needle in self.primary}
        while (hit := max(found.values())) >= 0:
            newline = buf.rfind(b"\n", lo, hit)
            start = newline + 1 if newline >= 0 else lo
            end = buf.find(b"\n", hit, hi)
            yield start, hi if end < 0 else end
            for needle, position in found.items():
                if position >= start:
                    found[needle] = buf.rfind(needle, lo, start)

    def literals(self, raw: bytes, primary: bool = False) -> bool:
        """Whether the line holds the literals (the primary one too when asked): checked before parsing."""
        groups = [self.primary, *self.rest] if primary and self.primary else self.rest
        return all(any(needle in raw for needle in group) for group in groups)

    def accepts(self, fields: dict | None) -> bool:
        """Whether a line with these JSON fields (None: plain text) matches all but --since."""
        if fields is None:
            return self.text_allowed
        query = self.query
        if query.services and fields.get("service") not in query.services:
            return False
        if self.min_rank is not None:
            level = fields.get("level")
            if RANK.get(level.lower() if isinstance(level, str) else "", -1) < self.min_rank:
                return False
        return not query.trace or fields.get("trace_id") == query.trace

    def recent(self, key: str) -> bool:
        return self.since is None or key >= self.since


def lines_backward(buf: bytes, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of buf[lo:hi], last first."""
    if hi > lo and buf[hi - 1] == 0x0A:
        hi -= 1
    while hi > lo:
        newline = buf.rfind(b"\n", lo, hi)
        yield (newline + 1 if newline >= 0 else lo), hi
        if newline < 0:
            return
        hi = newline
