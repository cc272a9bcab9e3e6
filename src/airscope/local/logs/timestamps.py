"""When a line was written: the sort key of each line (the kit's RFC 3339 timestamp, or the time a
plain-text program puts near the start of its lines), and the --since moment."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson

from airscope import units

# Where plain-text programs put their time: ISO 8601 (PostgreSQL, supervisord, Prometheus' ts=...)
# or Redis' "28 Nov 2026 02:03:56.214". Without a zone it is the machine's local time.
_TEXT_TIME = re.compile(
    rb"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))? ?(Z|UTC|[+-]\d{2}:?\d{2})?"
)
_REDIS_TIME = re.compile(rb"(\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2})(?:\.(\d+))?")
_TEXT_TIME_WITHIN = 80  # bytes from a line's start
_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def format_timestamp(moment: datetime) -> str:
    """RFC 3339, UTC, milliseconds: the kit's own timestamp format, so keys compare as strings."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def key_of_timestamp(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 24 and value[10] == "T" and value[-1] == "Z":
        return value  # the kit's format, nearly every line
    try:
        moment = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return format_timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def key_of_text(raw: bytes) -> str | None:
    head = raw[:_TEXT_TIME_WITHIN]
    if match := _TEXT_TIME.search(head):
        day, clock, fraction, zone = (part.decode() if part else "" for part in match.groups())
        zone = {"Z": "+00:00", "UTC": "+00:00"}.get(zone, zone)
        text = f"{day}T{clock}.{(fraction + '000000')[:6]}{zone}"
    elif match := _REDIS_TIME.search(head):
        clock = datetime.strptime(match[1].decode(), "%d %b %Y %H:%M:%S")
        text = f"{clock:%Y-%m-%dT%H:%M:%S}.{((match[2] or b'').decode() + '000000')[:6]}"
    else:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return format_timestamp(moment if moment.tzinfo else moment.astimezone())


def parse_json(raw: bytes) -> dict | None:
    """The line's fields when it is a JSON object (the kit's lines); None for plain text."""
    if raw[:1] != b"{":
        return None
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return fields if isinstance(fields, dict) else None


def own_key(raw: bytes, fields: dict | None) -> str | None:
    """The line's own sort key; None when it holds no time (a traceback's continuation)."""
    return key_of_timestamp(fields.get("timestamp")) if fields is not None else key_of_text(raw)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An age back from now (airscope.units' grammar: ``10m``, ``2h``, ``1d``; a bare number is
    seconds), or an RFC 3339 time (UTC when it names no zone)."""
    try:
        return (now or datetime.now(UTC)) - timedelta(seconds=units.parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an age (10m, 2h, 1d; a bare number is seconds) "
            "nor an RFC 3339 time (2026-11-28T14:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_trace_id(text: str) -> str:
    """A trace id as the files hold it (lowercase); ``ValueError`` when it is not 32 hex digits."""
    if not _TRACE_ID.fullmatch(text.lower()):
        raise ValueError(f"{text!r} is not a trace id (32 hex digits, as in the X-Trace-Id header)")
    return text.lower()
