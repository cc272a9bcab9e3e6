"""Template variables and Grafana's built-in macros, resolved on the server the way Grafana does.

Two halves:

- **Intervals** (``$__interval``, ``$__rate_interval``, the query step): Grafana's rules, from its
  Prometheus and Loki data sources. The interval is the time range over ``maxDataPoints`` rounded to a
  "nice" value (``round_interval_ms``), never below the panel's min interval or else the data
  source's scrape interval (``timeInterval``: the local Prometheus scrapes every 5 s, production's
  every 15 s); the step is that, and never finer than range / 11 000 (Prometheus' own point limit).
  ``$__rate_interval`` is ``max(interval + scrape, 4 * scrape)``: four scrapes at least, so ``rate()``
  always has two samples even when one scrape is lost.
- **Variables** (``$var``, ``${var}``, ``${var:format}``, ``[[var]]``): a dashboard's template variables,
  with the value the page chose, formatted as the target's data source formats them (Prometheus and Loki
  regex-escape multi-value and "All" variables and join them as ``(a|b)``; a custom ``allValue`` such
  as ``.+`` goes in as it is).

``interpolate(text, scope, dialect)`` is the one entry point; the LogQL and TraceQL runners
(``console.logql``, ``console.traceql``) receive text already interpolated by it.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airscope.console.timerange import TimeRange
from airscope.errors import AirscopeError

ALL = "$__all"  # Grafana's value for "All", in URLs (var-x=$__all) and in a variable's `current`
SAFE_RESOLUTION = 11_000  # Prometheus refuses a range query of more than 11 000 points per series
DEFAULT_MAX_DATA_POINTS = 1500  # Grafana's backend default when a request names none
RATE_INTERVAL_SCRAPES = 4
DEFAULT_SCRAPE_INTERVAL = "15s"  # Grafana's default when a Prometheus data source sets no timeInterval

# Grafana's roundInterval: (upper bound in ms, the interval chosen up to it).
_ROUNDING = (
    (10, 1),
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (750_000, 600_000),
    (1_050_000, 900_000),
    (1_500_000, 1_200_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (32_400_000, 21_600_000),
    (86_400_000, 43_200_000),
    (172_800_000, 86_400_000),
    (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000),
    (3_628_800_000, 2_592_000_000),
)
_YEAR_MS = 31_536_000_000
_FORMAT_UNITS = (("y", _YEAR_MS), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))
_INTERVAL = re.compile(r"^\s*[<>]?\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$")
_INTERVAL_UNITS = {
    "ms": 1,
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": _YEAR_MS,
}
# Grafana's variableRegex: $name | [[name:format]] | ${name.fieldPath:format}
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")


class VariableError(AirscopeError):
    """A template variable that cannot be resolved (an interval in a bad form, an unknown format)."""


# --- intervals ------------------------------------------------------------------------------------


def round_interval_ms(ms: float) -> int:
    """Grafana's roundInterval: the "nice" interval at or below ``ms`` (1 ms .. 30 d)."""
    for bound, chosen in _ROUNDING:
        if ms <= bound:
            return chosen
    return _YEAR_MS


def format_interval(ms: int) -> str:
    """Grafana's FormatInterval: the largest whole unit (``90000`` -> ``1m``), as ``$__interval`` reads."""
    for unit, size in _FORMAT_UNITS:
        if ms >= size:
            return f"{int(ms // size)}{unit}"
    return "1ms"


def format_duration(ms: int) -> str:
    """An exact duration PromQL reads (``75000`` -> ``1m15s``), for ``$__rate_interval``: Grafana writes Go's
    ``Duration.String()`` there (``1m15s``, ``1m0s``); this drops the zero parts, the same length of time."""
    if ms <= 0:
        return "0s"
    parts, rest = [], int(ms)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)


def parse_interval(text: str) -> int:
    """Milliseconds of an interval as Grafana accepts one (``15s``, ``>10s``, ``<1m``, a bare number of seconds)."""
    match = _INTERVAL.match(str(text))
    if match is None:
        raise VariableError(
            f"interval {text!r} is not a number and a unit (ms, s, m, h, d, w, y), e.g. `15s` or `1m`"
        )
    number, unit = float(match.group(1)), match.group(2) or "s"
    return max(1, int(number * _INTERVAL_UNITS[unit]))


@dataclass(frozen=True)
class Intervals:
    """What one target runs with: ``$__interval`` (ms), the query step (ms) and ``$__rate_interval`` (ms)."""

    interval_ms: int
    step_ms: int
    rate_interval_ms: int

    @property
    def step_seconds(self) -> float:
        return self.step_ms / 1000


def _max_data_points(max_data_points: int | None) -> int:
    return int(max_data_points) if max_data_points and max_data_points > 0 else DEFAULT_MAX_DATA_POINTS


def _frontend_interval(span_ms: int, max_data_points: int | None, low_limit_ms: int) -> int:
    """Grafana's calculateInterval (the browser's): round(range / points), not below the lower limit."""
    return max(round_interval_ms(span_ms / _max_data_points(max_data_points)), low_limit_ms)


def prometheus_intervals(
    time_range: TimeRange,
    max_data_points: int | None,
    *,
    scrape_interval: str = DEFAULT_SCRAPE_INTERVAL,
    panel_interval: str | None = None,
    min_step: str | None = None,
    interval_factor: int | None = None,
) -> Intervals:
    """Grafana's Prometheus rules: the panel's min interval (``panel_interval``) else the data source's
    scrape interval is the lower limit; a target's ``interval`` ("Min step") is one more lower limit of the
    step and replaces the scrape interval in ``$__rate_interval``; ``intervalFactor`` multiplies the step."""
    span = max(time_range.span_ms, 0)
    scrape_ms = parse_interval(scrape_interval or DEFAULT_SCRAPE_INTERVAL)
    low_limit = parse_interval(panel_interval) if panel_interval else scrape_ms
    interval = _frontend_interval(span, max_data_points, low_limit)
    step = interval
    if min_step and not _is_variable(min_step):
        step = max(step, parse_interval(min_step))
    step = max(step, round_interval_ms(span / SAFE_RESOLUTION))
    step *= max(int(interval_factor or 1), 1)
    rate_base = parse_interval(min_step) if min_step and not _is_variable(min_step) else scrape_ms
    rate = max(interval + rate_base, RATE_INTERVAL_SCRAPES * rate_base)
    return Intervals(interval_ms=step, step_ms=step, rate_interval_ms=rate)


def loki_intervals(
    time_range: TimeRange, max_data_points: int | None, *, panel_interval: str | None = None
) -> Intervals:
    """Grafana's Loki rules: ``$__interval`` is the browser's interval (lower limit 1 ms, or the panel's
    min interval); the step is that, never finer than range / 11 000 and never below 1 s."""
    span = max(time_range.span_ms, 0)
    low_limit = parse_interval(panel_interval) if panel_interval else 1
    interval = _frontend_interval(span, max_data_points, low_limit)
    step = max(interval, math.ceil(span / SAFE_RESOLUTION), 1_000)
    return Intervals(interval_ms=interval, step_ms=step, rate_interval_ms=interval)


def _is_variable(text: str) -> bool:
    return "$" in text or "[[" in text


# --- variables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One of a dashboard's template variables, as its JSON declares it."""

    name: str
    type: str = "custom"
    label: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # (text, value), the "All" option left out
    current: tuple[str, ...] = ()
    query: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Variable:
        options = tuple(
            (str(o.get("text", o.get("value", ""))), str(o.get("value", "")))
            for o in data.get("options") or []
            if o.get("value") != ALL
        )
        query = data.get("query") or ""
        if isinstance(query, Mapping):  # newer Grafana saves a query variable's query as an object
            query = query.get("query", "")
        if not options and data.get("type") == "custom" and query:
            # Grafana's custom variable: "a,b" or "text : value" pairs, split on commas not escaped.
            options = tuple(
                _custom_option(part) for part in re.split(r"(?<!\\),", str(query)) if part.strip()
            )
        current = (data.get("current") or {}).get("value", ())
        if isinstance(current, str):
            current = (current,)
        all_value = data.get("allValue")
        return cls(
            name=str(data["name"]),
            type=str(data.get("type", "custom")),
            label=str(data.get("label") or ""),
            multi=bool(data.get("multi")),
            include_all=bool(data.get("includeAll")),
            all_value=str(all_value) if all_value not in (None, "") else None,
            options=options,
            current=tuple(str(v) for v in current),
            query=str(query),
        )

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for _, value in self.options)

    def text_of(self, value: str) -> str:
        return next((text for text, v in self.options if v == value), value)


def _custom_option(part: str) -> tuple[str, str]:
    part = part.strip().replace("\\,", ",")
    text, sep, value = part.partition(" : ")
    return (text.strip(), value.strip()) if sep else (part, part)


def variables_of(dashboard: Mapping[str, Any]) -> list[Variable]:
    return [
        Variable.from_json(v) for v in (dashboard.get("templating") or {}).get("list") or [] if "name" in v
    ]


@dataclass(frozen=True)
class Selection:
    """A variable with the values chosen for it; ``(ALL,)`` means "All"."""

    variable: Variable
    values: tuple[str, ...]

    @property
    def is_all(self) -> bool:
        return ALL in self.values


def select(
    variables: Iterable[Variable],
    requested: Mapping[str, Sequence[str] | str] | None,
    *,
    options_for: Callable[[Variable], Sequence[str]] | None = None,
) -> dict[str, Selection]:
    """The values each variable takes: the request's, else the dashboard's ``current``, else All (or the
    first option when All is not offered). ``options_for`` gives a query variable's options (from
    Prometheus); a variable whose options are known is filled in with them."""
    chosen: dict[str, Selection] = {}
    requested = requested or {}
    for variable in variables:
        if options_for is not None and variable.type == "query":
            values = [str(v) for v in options_for(variable)]
            variable = _with_options(variable, values)
        raw = requested.get(variable.name)
        values = (raw,) if isinstance(raw, str) else tuple(str(v) for v in raw or ())
        values = tuple(v for v in values if v != "") or variable.current
        if not values:
            values = (ALL,) if variable.include_all else variable.values[:1]
        if ALL in values:
            values = (ALL,) if variable.include_all else variable.values[:1]
        if not variable.multi and len(values) > 1:
            values = values[:1]  # Grafana keeps the first when a single-value variable gets several
        chosen[variable.name] = Selection(variable, values)
    return chosen


def _with_options(variable: Variable, values: Sequence[str]) -> Variable:
    return Variable(
        name=variable.name,
        type=variable.type,
        label=variable.label,
        multi=variable.multi,
        include_all=variable.include_all,
        all_value=variable.all_value,
        options=tuple((v, v) for v in values),
        current=variable.current,
        query=variable.query,
    )


# --- formatting -----------------------------------------------------------------------------------

Value = str | list[str]


def _regex_escape(value: str) -> str:
    """Grafana's kbn.regexEscape (the ``:regex`` format)."""
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m.group(0), value)


def _prometheus_regular(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def _prometheus_special(value: str) -> str:
    # Two backslashes before a metacharacter: one for the PromQL string, one for the regex.
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)


def _loki_regular(value: str) -> str:
    return value.replace("'", "\\\\'")


def _loki_special(value: str) -> str:
    value = value.replace("\\", "\\\\\\\\")
    return _loki_regular(re.sub(r"[$^*{}\[\]+?.()|]", lambda m: "\\\\" + m.group(0), value))


def _query_expr(
    regular: Callable[[str], str], special: Callable[[str], str]
) -> Callable[[Value, Variable], str]:
    """A data source's interpolateQueryExpr: plain escaping for a single-value variable; regex escaping
    and ``(a|b)`` for a multi-value or All one (it sits in ``=~"..."``)."""

    def formatter(value: Value, variable: Variable) -> str:
        if not variable.multi and not variable.include_all:
            return regular(value) if isinstance(value, str) else ",".join(regular(v) for v in value)
        if isinstance(value, str):
            return special(value)
        escaped = [special(v) for v in value]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

    return formatter


DIALECTS: dict[str, Callable[[Value, Variable], str]] = {
    "prometheus": _query_expr(_prometheus_regular, _prometheus_special),
    "loki": _query_expr(_loki_regular, _loki_special),
}


def _glob(value: Value) -> str:
    if isinstance(value, str):
        return value
    return value[0] if len(value) == 1 else "{" + ",".join(value) + "}"


def _many(value: Value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _lucene(value: Value) -> str:
    def escape(v: str) -> str:
        return re.sub(r'([+\-=&|><!(){}\[\]^"~*?:\\/ ])', r"\\\1", v)

    if isinstance(value, str):
        return escape(value)
    if len(value) == 1:
        return escape(value[0])
    return "(" + " OR ".join(f'"{escape(v)}"' for v in value) + ")"


def _percent(value: Value) -> str:
    return urllib.parse.quote(_glob(value), safe="-_.!~*'()")


# Grafana's format registry (the `${var:format}` names).
FORMATS: dict[str, Callable[[Value], str]] = {
    "raw": lambda v: ",".join(_many(v)),
    "regex": lambda v: (
        _regex_escape(v)
        if isinstance(v, str)
        else (_regex_escape(v[0]) if len(v) == 1 else "(" + "|".join(_regex_escape(x) for x in v) + ")")
    ),
    "pipe": lambda v: "|".join(_many(v)),
    "csv": lambda v: ",".join(_many(v)),
    "distributed": lambda v: ",".join(_many(v)),
    "json": lambda v: json.dumps(v),
    "glob": _glob,
    "lucene": _lucene,
    "percentencode": _percent,
    "singlequote": lambda v: ",".join("'" + x.replace("'", "\\'") + "'" for x in _many(v)),
    "doublequote": lambda v: ",".join('"' + x.replace('"', '\\"') + '"' for x in _many(v)),
    "sqlstring": lambda v: ",".join("'" + x.replace("'", "''") + "'" for x in _many(v)),
}


# --- interpolation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Everything ``interpolate`` needs: the range, the variables' values and the target's intervals."""

    time_range: TimeRange
    selections: Mapping[str, Selection] = field(default_factory=dict)
    intervals: Intervals | None = None

    def builtins(self) -> dict[str, str]:
        span = self.time_range.span_ms
        seconds = round(span / 1000)
        values = {
            "__range": f"{seconds}s",
            "__range_s": str(seconds),
            "__range_ms": str(span),
            "__from": str(self.time_range.from_ms),
            "__to": str(self.time_range.to_ms),
        }
        if self.intervals is not None:
            values |= {
                "__interval": format_interval(self.intervals.interval_ms),
                "__interval_ms": str(self.intervals.interval_ms),
                "__rate_interval": format_duration(self.intervals.rate_interval_ms),
                "__rate_interval_ms": str(self.intervals.rate_interval_ms),
                "__auto": format_interval(self.intervals.step_ms),  # Loki's $__auto: the step
            }
        return values


def _date(ms: int, fmt: str) -> str:
    """``${__from:date:...}``: ``seconds``, ``iso``; milliseconds otherwise (Grafana's default)."""
    kind = fmt.partition(":")[2]
    if kind == "seconds":
        return str(ms // 1000)
    if kind in ("iso", ""):
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise VariableError(f"date format {kind!r} is not one the console knows: use `seconds` or `iso`")


def format_selection(selection: Selection, fmt: str | None = None, dialect: str | None = None) -> str:
    """A variable's value as text, in ``fmt`` (a ``${var:fmt}``) or else the data source's default."""
    variable = selection.variable
    if selection.is_all:
        # Grafana leaves a custom all value (such as `.+`) unformatted, but for text and percentencode.
        if variable.all_value is not None and fmt not in ("text", "percentencode"):
            return variable.all_value
        value: Value = [variable.all_value] if variable.all_value is not None else list(variable.values)
    else:
        values = list(selection.values)
        value = values if variable.multi or len(values) != 1 else values[0]
    if fmt == "text":
        if selection.is_all:
            return "All"
        return " + ".join(variable.text_of(v) for v in _many(value))
    if fmt == "queryparam":
        return "&".join(f"var-{variable.name}={urllib.parse.quote(v, safe='')}" for v in _many(value))
    if fmt:
        formatter = FORMATS.get(fmt)
        if formatter is None:
            raise VariableError(
                f"${{{variable.name}:{fmt}}}: {fmt!r} is not a variable format; use one of "
                + ", ".join(sorted([*FORMATS, "text", "queryparam"]))
            )
        return formatter(value)
    if dialect in DIALECTS:
        return DIALECTS[dialect](value, variable)
    return _glob(value)


def interpolate(text: str, scope: Scope, dialect: str | None = None) -> str:
    """``text`` with every known variable and built-in replaced (unknown ones stay, as in Grafana).

    ``dialect`` is the target's data source type (``prometheus``, ``loki``, ``tempo``): it decides how a
    variable's value is escaped when the text names no format."""
    builtins = scope.builtins()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name in builtins:
            if fmt and fmt.startswith("date") and name in ("__from", "__to"):
                return _date(int(builtins[name]), fmt)
            return builtins[name]
        selection = scope.selections.get(name)
        if selection is None:
            return match.group(0)
        return format_selection(selection, fmt, dialect)

    return _VARIABLE.sub(replace, text)
