"""Production's logs, read from Loki (``GET /loki/api/v1/query_range``, Loki 3.x HTTP API), in the
shapes ``LocalLogs`` answers.

The streams are Alloy's (deploy/alloy/config.alloy): every line carries the stream labels ``service``
(a service, a stack container's compose name, or ``frontend``), ``environment`` and ``level`` (the
line's level normalized to debug/info/warning/error/critical; a line without one has no label), and
``trace_id``/``span_id`` as structured metadata. So a query becomes the LogQL

    {service=~"api-gateway|llm-orchestrator", level=~"error|critical"} |= "timeout" | trace_id="4bf9..."

(``service=~".+"`` when no service is asked: it matches every stream), over ``start``..``end`` in Unix
nanoseconds (default: the last 15 minutes), newest first (``direction=backward``) so Loki's ``limit``
keeps the last lines, which are returned oldest first.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from airscope.errors import AirscopeError
from airscope.local.logs import LEVELS, format_timestamp
from airscope.local.logs.query import RANK
from airscope.operator_mcp import limits
from airscope.operator_mcp.httpjson import JSONAPI
from airscope.operator_mcp.sources import LogQuery

QUERY_RANGE = "/loki/api/v1/query_range"
DEFAULT_SINCE = timedelta(minutes=15)
EVERY_STREAM = 'service=~".+"'
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")  # what Go's regexp.QuoteMeta escapes


class LokiLogs:
    """Loki's lines as ``LocalLogs`` gives the local files': a JSON line parsed (``"program"``, the
    ``service`` label, added when the line names no ``service``: a stack container's or the frontend's
    JSON), any other line ``{"timestamp", "program", "text"}``."""

    def __init__(
        self,
        url: str,
        tenant: str | None = None,
        timeout: float = limits.CALL_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._api = JSONAPI("Loki", url, tenant, timeout, transport)
        self.url = self._api.url
        self.where = self._api.where

    def close(self) -> None:
        self._api.close()

    def describe(self, query: LogQuery) -> str:
        return logql(query)

    def lines(self, query: LogQuery) -> list[dict]:
        until = query.until or datetime.now(UTC)
        since = query.since or until - DEFAULT_SINCE
        params = {
            "query": logql(query),
            "start": _ns(since),
            "end": _ns(until) + 1,  # Loki's end is exclusive; the protocol's until is not
            "limit": query.limit,
            "direction": "backward",
        }
        entries = self._entries(self._api.get(QUERY_RANGE, params))
        # Each stream's values are newest first, but streams interleave: merge, then keep the newest.
        newest = sorted(entries, key=lambda entry: entry[0], reverse=True)[: query.limit]
        return [_line(ns, text, service) for ns, text, service in reversed(newest)]

    def _entries(self, body: object) -> list[tuple[int, str, str]]:
        """(timestamp ns, line, service label) of every value of every stream in the answer."""
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(data, dict):
            raise self._api.fail(f"{QUERY_RANGE} answered no successful query result: {str(body)[:300]}")
        if data.get("resultType") != "streams":
            raise self._api.fail(f"{QUERY_RANGE} answered a {data.get('resultType')!r}, not log streams")
        try:
            return [
                (int(value[0]), str(value[1]), str(stream.get("stream", {}).get("service", "")))
                for stream in data.get("result") or ()
                for value in stream.get("values") or ()
            ]
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise self._api.fail(f"{QUERY_RANGE} answered streams not in Loki's shape ({exc!r})") from None


def logql(query: LogQuery) -> str:
    """The LogQL that selects ``query``'s lines from Alloy's streams."""
    services = "|".join(_REGEX_META.sub(r"\\\1", service) for service in sorted(query.services))
    matchers = [f"service=~{_string(services)}" if services else EVERY_STREAM]
    if query.level:
        matchers.append(f"level=~{_string('|'.join(_levels_from(query.level)))}")
    text = "{" + ", ".join(matchers) + "}"
    # The line filter first: Loki applies it to the raw line, before a label filter builds labels.
    if query.grep:
        text += f" |= {_string(query.grep)}"
    if query.trace_id:
        text += f" | trace_id={_string(query.trace_id)}"
    return text


def _levels_from(level: str) -> list[str]:
    """The normalized levels at ``level`` and above (``warn`` and ``fatal`` read as airscope logs does)."""
    rank = RANK.get(level.lower())
    if rank is None:
        raise AirscopeError(f"unknown log level {level!r}: one of {', '.join(LEVELS)}")
    return [name for name in LEVELS if RANK[name] >= rank]


def _string(value: str) -> str:
    """A LogQL string literal: Loki unquotes it as Go does, so JSON's escapes read back the same."""
    return json.dumps(value, ensure_ascii=False)


def _ns(moment: datetime) -> int:
    """Unix nanoseconds, exactly (a float of seconds loses the microseconds); naive is local time."""
    aware = moment if moment.tzinfo else moment.astimezone()
    return (aware - _EPOCH) // timedelta(microseconds=1) * 1000


def _line(ns: int, text: str, service: str) -> dict:
    if text.startswith("{"):
        try:
            fields = orjson.loads(text)
        except orjson.JSONDecodeError:
            fields = None
        if isinstance(fields, dict):
            if "service" not in fields:
                fields.setdefault("program", service)
            return fields
    moment = datetime.fromtimestamp(ns / 1e9, UTC)
    return {"timestamp": format_timestamp(moment), "program": service, "text": text.rstrip("\n")}
