"""How ``airscope logs`` prints a line: one readable row (a traceback on indented lines below it),
or the JSON line as written."""

from __future__ import annotations

import re
from collections.abc import Callable

import orjson

from airscope.local.logs.files import base
from airscope.local.logs.query import Line

_NEEDS_QUOTES = re.compile(r'[\s"=]').search
# After the fields that say what happened. trace_sampled is shown only when false (the trace was not
# kept: `airscope trace` will not find it); locally every trace is kept unless OTEL_TRACES_SAMPLER says.
_SHOWN_LAST = ("logger", "trace_id", "trace_sampled", "span_id", "request_id")

# How a caller colours the level column: (padded level text, lowercase level) -> text to print.
LevelStyle = Callable[[str, str], str]


def render(line: Line, style: LevelStyle | None = None) -> str:
    """``HH:MM:SS.mmm LEVEL service  event  key=value ...``; a multi-line value (a traceback) follows
    on its own indented lines; a plain-text line is shown after its program's name."""
    clock = line.key[11:23]
    if line.fields is None:
        return f"{clock} {'':8} {line.program:<20} {line.raw.decode(errors='replace')}"
    fields = dict(line.fields)
    level = str(fields.pop("level", "-"))
    service = str(fields.pop("service", line.program))
    if base(line.program) == service:
        service = line.program  # which instance of a scaled service
    event = str(fields.pop("event", ""))
    fields.pop("timestamp", None)
    if isinstance(fields.get("trace_id"), str):
        fields["trace_id"] = fields["trace_id"][:8]
    if fields.get("trace_sampled") is True:
        del fields["trace_sampled"]
    shown = [key for key in fields if key not in _SHOWN_LAST] + [key for key in _SHOWN_LAST if key in fields]
    pairs, blocks = [], []
    for key in shown:
        value = fields[key]
        if isinstance(value, str) and "\n" in value:
            blocks += [f"  {key}:", *("    " + part for part in value.rstrip().splitlines())]
        else:
            pairs.append(f"{key}={_value(value)}")
    level_text = f"{level.upper():<8}"
    if style is not None:
        level_text = style(level_text, level.lower())
    return "\n".join([f"{clock} {level_text} {service:<20} {event}  {' '.join(pairs)}".rstrip(), *blocks])


def _value(value: object) -> str:
    if isinstance(value, str):
        return value if value and not _NEEDS_QUOTES(value) else orjson.dumps(value).decode()
    return orjson.dumps(value, default=str).decode()


def as_json(line: Line) -> bytes:
    """The line as written when it is JSON; a plain-text line wrapped, so the output stays JSON lines."""
    if line.fields is not None:
        return line.raw
    text = line.raw.decode(errors="replace")
    return orjson.dumps({"timestamp": line.key, "program": line.program, "text": text})
