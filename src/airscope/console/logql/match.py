"""Whether a line matches a log query, and the labels production's Loki would give it."""

from __future__ import annotations

import json
import re
from datetime import datetime

from airscope.console.logql.parse import LABELS, LogQuery, Matcher
from airscope.local.logs import LEVELS, Query, base

_METADATA = ("trace_id", "span_id")


def _labels(program: str, fields: dict | None) -> dict[str, str]:
    """A line's stream labels as production's Loki has them (an empty label is no label)."""
    if fields is None:
        return {"service": base(program)}
    labels = {}
    for name in LABELS:
        value = fields.get(name)
        if isinstance(value, str) and value:
            labels[name] = value
    return labels


def _flatten(fields: dict, prefix: str = "") -> dict[str, str]:
    """``| json``'s labels: nested keys joined with ``_``, values as strings."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        name = re.sub(r"[^A-Za-z0-9_]", "_", f"{prefix}{key}")
        if isinstance(value, dict):
            out |= _flatten(value, f"{name}_")
        elif isinstance(value, str):
            out[name] = value
        elif value is not None:
            out[name] = json.dumps(value)
    return out


def is_probe(fields: dict | None) -> bool:
    """An access line of a probe or a scrape, which Alloy drops (``^(/health.*|/metrics)$``)."""
    if fields is None or fields.get("logger") != "access":
        return False
    for name in ("route", "path"):
        value = fields.get(name)
        if type(value) is str and (value.startswith("/health") or value == "/metrics"):
            return True
    return False


class Judge:
    """Whether a line matches a log query, and its labels (stream labels, plus JSON fields when
    the query has ``| json``); label checks cached per label set, as a file has few."""

    def __init__(self, query: LogQuery) -> None:
        self.query = query
        self._streams: dict[tuple, bool] = {}

    def __call__(self, program: str, raw: bytes, fields: dict | None) -> dict[str, str] | None:
        query = self.query
        for line_filter in query.line_filters:
            if not line_filter(raw):
                return None
        if is_probe(fields):
            return None
        labels = _labels(program, fields)
        stream = tuple(labels.items())
        accepted = self._streams.get(stream)
        if accepted is None:
            accepted = self._streams[stream] = all(m(labels.get(m.name, "")) for m in query.selector)
        if not accepted:
            return None
        if query.json and fields is not None:
            labels = _flatten(fields) | labels  # stream labels win a clash, as in Loki (…_extracted)
        if query.label_filters:
            seen = labels if query.json else labels | _metadata(fields)
            if not all(m(seen.get(m.name, "")) for m in query.label_filters):
                return None
        return labels


def _metadata(fields: dict | None) -> dict[str, str]:
    if fields is None:
        return {}
    return {name: fields[name] for name in _METADATA if isinstance(fields.get(name), str)}


def prefilter(query: LogQuery, since: datetime, limit: int) -> Query:
    """The engine's query for a superset of the lines ``query`` matches: it narrows the search
    (literals found with rfind before any parsing), the exact check follows on each line."""
    services: frozenset[str] = frozenset()
    level = None
    for matcher in query.selector:
        values = _literal_values(matcher)
        if values is None:
            continue
        if matcher.name == "service" and not services:
            services = values
        elif matcher.name == "level" and level is None and values <= set(LEVELS):
            level = min(values, key=LEVELS.index)
    trace = None
    for matcher in query.label_filters:
        if matcher.name == "trace_id" and matcher.op == "=" and re.fullmatch(r"[0-9a-f]{32}", matcher.value):
            trace = matcher.value
    grep = next((f.text for f in query.line_filters if f.op == "|=" and f.text), None)
    return Query(services, level, trace, since, grep, limit)


def _literal_values(matcher: Matcher) -> frozenset[str] | None:
    """The values a positive matcher allows when it is a list (``=``, or ``=~"a|b|c"``)."""
    if matcher.op == "=":
        return frozenset([matcher.value]) if matcher.value else None
    if matcher.op == "=~" and re.fullmatch(r"\(?[\w@-]+(?:\|[\w@-]+)*\)?", matcher.value):
        return frozenset(matcher.value.strip("()").split("|"))
    return None
