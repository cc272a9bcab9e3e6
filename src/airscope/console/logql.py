"""The LogQL the generated dashboards send to Loki, run against the local log files instead.

The subset is what ``airscope gen`` emits and what Grafana's trace-to-logs link adds, no more:

- a stream selector ``{service=~"…", level="…"}`` on the labels Alloy sets that exist locally
  (``service``, ``level``) with ``=``, ``!=``, ``=~``, ``!~`` (regexes anchored, as in Loki);
- line filters ``|= "text"``, ``!= "text"``, ``|~ "regex"``, ``!~ "regex"``;
- ``| json`` and label filters after it (``| trace_id="…"``, ``| logger="access"``; strings only);
- metric queries ``count_over_time(<that> [range])`` and ``rate(…)``, under ``sum`` or
  ``sum by (labels)``.

Anything else answers the "unsupported" frame that says so and why ("production only: needs
Loki"), never an empty result that would pass for data. Local lines carry the labels production's
Loki gives them: a JSON line's ``service`` and ``level`` fields (a plain-text line: its program as
``service``, no ``level``), ``trace_id`` and ``span_id`` as structured metadata, and probe access
lines are left out as Alloy drops them.

Work is bounded: a log query reads newest first through ``LogStore`` (the engine that answers a
search over a million lines within 2 s) and stops at its limit; a metric query reads only the byte
range of each file that the time range covers (found by bisection, lines being in time order) and
refuses ranges holding more than ``MAX_WINDOW_BYTES``.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import mmap
import re
from bisect import bisect_left
from collections import deque
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from airscope import units
from airscope.local.logs import LEVELS, Line, LogStore, Query, base, format_timestamp, log_files
from airscope.local.logs.files import is_current, mtime
from airscope.local.logs.query import Matcher as EngineMatcher
from airscope.local.logs.timestamps import key_of_text, key_of_timestamp, own_key, parse_json

# Past this many bytes of lines in a metric query's range, counting would take longer than the
# engine's 2 s goal (parsing every line: about 2.5 s for a million lines, 300 MB, on a quiet 2-core
# machine): the user narrows the range instead of waiting.
MAX_WINDOW_BYTES = 160 * 1024 * 1024
MAX_POINTS = 11_000  # Loki's own max_points per series
MAX_SERIES = 500  # Loki's default max_query_series
MAX_BUCKETS = 100_000  # counting buckets (the step and range's common divisor): their bounds cost memory
MAX_LIMIT = 5000  # Loki's default max_entries_limit_per_query
_SLACK = timedelta(minutes=1)  # lines slightly out of time order (clock steps, threads) still found
_LABELS = ("service", "level")
_METADATA = ("trace_id", "span_id")
SUBSET = (
    'the console runs {service|level op "value"} selectors (=, !=, =~, !~), the line filters '
    '|= != |~ !~, | json, label filters like | trace_id="…", and sum [by (labels)] '
    "(count_over_time|rate(…[range]))"
)


class Unsupported(Exception):
    """Valid LogQL (or so it seems) outside the subset: production's Loki answers it, not the console."""


class LogQLError(Exception):
    """A query neither Loki nor the console can run (a syntax error, a bad regex)."""


# ---------------------------------------------------------------- the query, parsed


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str
    regex: re.Pattern | None = None

    def __call__(self, actual: str) -> bool:
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        matched = self.regex.fullmatch(actual) is not None  # type: ignore[union-attr]
        return matched if self.op == "=~" else not matched


@dataclass(frozen=True)
class LineFilter:
    op: str  # |= != |~ !~
    text: str
    needle: bytes = b""
    regex: re.Pattern | None = None

    def __call__(self, raw: bytes) -> bool:
        if self.op in ("|=", "!="):
            return (self.needle in raw) == (self.op == "|=")
        found = self.regex.search(raw.decode(errors="replace")) is not None  # type: ignore[union-attr]
        return found == (self.op == "|~")


@dataclass(frozen=True)
class LogQuery:
    """``{selector} pipeline``: which lines."""

    selector: tuple[Matcher, ...]
    line_filters: tuple[LineFilter, ...] = ()
    json: bool = False
    label_filters: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class MetricQuery:
    """``[sum [by (…)]] (count_over_time|rate (<log query> [range]))``."""

    function: str  # count_over_time | rate
    logs: LogQuery
    range_seconds: float
    groupings: tuple[tuple[str, ...] | None, ...] = ()  # outermost last; None: sum without by

    def group(self, labels: dict[str, str]) -> dict[str, str]:
        for by in self.groupings:
            labels = {} if by is None else {name: labels[name] for name in by if labels.get(name)}
        return labels


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
    | (?P<duration>\[[^\]]*\])
    | (?P<op>\|=|\|~|!=|!~|=~|==|>=|<=|=|>|<|\||\{|\}|\(|\)|,|[-+*/%^])
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<var>\$\S*)
    | (?P<other>\S)
    )""",
    re.VERBOSE,
)


_VARIABLE = re.compile(r"\$\{?[A-Za-z_]\w*|\[\[\w+\]\]")  # $var, ${var}, [[var]]: Grafana's syntax


class _Parser:
    def __init__(self, expr: str) -> None:
        if variable := _VARIABLE.search(expr):
            raise LogQLError(
                f"the query still holds {variable[0]!r}: a dashboard variable or macro that was not "
                "replaced (check the dashboard's templating)"
            )
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = expr.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:  # only trailing spaces are left
                break
            kind = match.lastgroup or "other"
            value = match[kind]
            if kind == "var":
                raise LogQLError(
                    f"the query still holds {value!r}: a dashboard variable or macro that was not "
                    "replaced (check the dashboard's templating)"
                )
            if kind == "other":
                raise LogQLError(f"parse error at {value!r} (position {match.start(kind)})")
            self.tokens.append((kind, value))
            position = match.end()
        self.at = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.at += 1
        return token

    def expect(self, value: str) -> None:
        _, got = self.take()
        if got != value:
            raise LogQLError(f"parse error: expected {value!r}, got {got or 'the end of the query'!r}")

    def string(self) -> str:
        kind, value = self.take()
        if kind != "string":
            raise LogQLError(f"parse error: expected a quoted string, got {value or 'the end'!r}")
        if value.startswith("`"):
            return value[1:-1]
        try:
            return json.loads(value)
        except ValueError:
            raise LogQLError(f"parse error: bad escape in {value}") from None

    # query := metric | log
    def query(self) -> LogQuery | MetricQuery:
        result = self.log() if self.peek()[1] == "{" else self.metric()
        kind, value = self.peek()
        if kind != "end":
            raise Unsupported(f"`{value}` after a complete query")
        return result

    def metric(self) -> MetricQuery:
        kind, name = self.take()
        if name == "sum":
            by: tuple[str, ...] | None = self.grouping()
            self.expect("(")
            inner = self.metric()
            self.expect(")")
            if by is None:
                by = self.grouping()
            return MetricQuery(inner.function, inner.logs, inner.range_seconds, (*inner.groupings, by))
        if name in ("count_over_time", "rate"):
            self.expect("(")
            logs = self.log()
            kind, window = self.take()
            if kind != "duration":
                raise LogQLError(f"parse error: {name} needs a range like [5m], got {window or 'none'!r}")
            self.expect(")")
            return MetricQuery(name, logs, _duration(window[1:-1]))
        if name in ("by", "without") or kind == "op":
            raise LogQLError(f"parse error at {name!r}")
        raise Unsupported(f"`{name}`")

    def grouping(self) -> tuple[str, ...] | None:
        """``by (a, b)`` when it comes next, else None (``without`` is outside the subset)."""
        word = self.peek()[1]
        if word == "without":
            raise Unsupported("`sum without (…)`")
        if word != "by":
            return None
        self.take()
        self.expect("(")
        names = []
        while self.peek()[1] != ")":
            kind, name = self.take()
            if kind != "word":
                raise LogQLError(f"parse error: expected a label name in by (…), got {name or 'the end'!r}")
            names.append(name)
            if self.peek()[1] == ",":
                self.take()
        self.take()
        return tuple(names)

    def log(self) -> LogQuery:
        self.expect("{")
        selector = []
        while True:
            selector.append(self.matcher(in_selector=True))
            kind, value = self.take()
            if value == "}":
                break
            if value != ",":
                raise LogQLError(f"parse error in the stream selector at {value or 'the end'!r}")
        if all(_matches_empty(m) for m in selector):
            raise LogQLError(
                "queries require at least one matcher that does not match the empty string "
                '(Loki\'s rule), for example {service=~".+"}'
            )
        filters: list[LineFilter] = []
        label_filters: list[Matcher] = []
        parsed_json = False
        while True:
            kind, value = self.peek()
            if value in ("|=", "!=", "|~", "!~"):
                self.take()
                text = self.string()
                if self.peek()[1] == "or":
                    raise Unsupported(f'`{value} "…" or "…"`')
                if value in ("|=", "!="):
                    filters.append(LineFilter(value, text, needle=text.encode()))
                else:
                    filters.append(LineFilter(value, text, regex=_compile(text)))
            elif value == "|":
                self.take()
                kind, stage = self.peek()
                if (
                    stage == "json"
                    and self.peek(1)[0] in ("op", "end", "duration")
                    and self.peek(1)[1] != "="
                ):
                    self.take()
                    parsed_json = True
                elif kind == "word" and self.peek(1)[1] in ("=", "!=", "=~", "!~", "=="):
                    label_filters.append(self.matcher(in_selector=False))
                    if self.peek()[1] in (",", "and", "or"):
                        raise Unsupported("label filters joined with `,`, `and` or `or`")
                else:
                    if kind == "word" and self.peek(1)[1] in (">", ">=", "<", "<="):
                        raise Unsupported(f"`| {stage} {self.peek(1)[1]} …` (a numeric label filter)")
                    raise Unsupported(f"`| {stage}`")
            else:
                break
        return LogQuery(tuple(selector), tuple(filters), parsed_json, tuple(label_filters))

    def matcher(self, in_selector: bool) -> Matcher:
        kind, name = self.take()
        if kind != "word":
            raise LogQLError(f"parse error: expected a label name, got {name or 'the end'!r}")
        kind, op = self.take()
        if op == "==":
            op = "="
        if op not in ("=", "!=", "=~", "!~"):
            raise LogQLError(f"parse error: expected = != =~ or !~ after {name}, got {op or 'the end'!r}")
        if in_selector and name not in _LABELS:
            raise Unsupported(
                f"the stream label {name!r}: locally lines have the labels service and level "
                "(production's Loki also has environment, which Alloy sets)"
            )
        value = self.string()
        return Matcher(name, op, value, _compile(value) if op in ("=~", "!~") else None)


def _matches_empty(matcher: Matcher) -> bool:
    return matcher("")


def _compile(pattern: str) -> re.Pattern:
    """Compiled once; label matchers use fullmatch (anchored, as in Loki), line filters search."""
    try:
        return re.compile(pattern)
    except re.error as error:
        raise LogQLError(f"bad regex {pattern!r}: {error}") from None


def _duration(text: str) -> float:
    if "$" in text:
        raise LogQLError(
            f"the query still holds [{text}]: a dashboard variable or macro that was not replaced"
        )
    try:
        seconds = units.parse_duration(text)
    except ValueError:
        raise LogQLError(f"parse error: {text!r} is not a range like 5m, 1h or 30s") from None
    if seconds <= 0:
        raise LogQLError(f"parse error: the range [{text}] must be longer than zero")
    return seconds


def parse(expr: str) -> LogQuery | MetricQuery:
    """The query, or ``Unsupported`` (outside the subset) or ``LogQLError`` (not valid LogQL)."""
    return _Parser(expr).query()


# ---------------------------------------------------------------- one line, as the query sees it


def _labels(program: str, fields: dict | None) -> dict[str, str]:
    """A line's stream labels as production's Loki has them (an empty label is no label)."""
    if fields is None:
        return {"service": base(program)}
    labels = {}
    for name in _LABELS:
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


def _is_probe(fields: dict | None) -> bool:
    """An access line of a probe or a scrape, which Alloy drops (``^(/health.*|/metrics)$``)."""
    if fields is None or fields.get("logger") != "access":
        return False
    for name in ("route", "path"):
        value = fields.get(name)
        if type(value) is str and (value.startswith("/health") or value == "/metrics"):
            return True
    return False


class _Judge:
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
        if _is_probe(fields):
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


# ---------------------------------------------------------------- reading the files


def _prefilter(query: LogQuery, since: datetime, limit: int) -> Query:
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


def _search(store: LogStore, query: LogQuery, start: str, end: str, limit: int) -> list[Line]:
    """The last ``limit`` matching lines between ``start`` and ``end`` (keys), oldest first."""
    judge = _Judge(query)
    since = datetime.fromisoformat(start)
    asked = limit
    for _ in range(2):  # the engine's newest lines, then 8 times more when the exact check dropped some
        found = list(store.query(_prefilter(query, since, asked)))
        kept = [ln for ln in found if ln.key <= end and judge(ln.program, ln.raw, ln.fields) is not None]
        if len(found) < asked or len(kept) >= limit:  # all candidates seen, or enough of them
            return kept[-limit:]
        asked *= 8
    # Few of the newest candidates match (a range ending in the past, a regex the engine cannot
    # narrow by): read the range itself, keeping each program's last ``limit``.
    per_program: dict[str, deque[Line]] = {}
    for key, program, raw, fields in _window(store.log_dir, start, end, query):
        if judge(program, raw, fields) is not None:
            per_program.setdefault(program, deque(maxlen=limit)).append(Line(key, program, raw, fields))
    merged = heapq.merge(*per_program.values(), key=lambda line: line.key)
    return list(deque(merged, maxlen=limit))


class TooMuch(Exception):
    """The range holds more bytes of lines than a query may count (``args[0]``: how many)."""


_BLOCK = 8 * 1024 * 1024  # bytes parsed at a time: the console's memory stays small whatever the range


def _blocks(log_dir: Path, start: str, end: str) -> Generator[tuple[str, bytes, str], str | None, None]:
    """(program, bytes of whole lines, key of the line before them) for the lines of every file
    from about ``start`` to about ``end`` (keys; the caller checks each line's), each program's in
    file order, a block at a time; ``send`` the key of a block's last line, which keyless lines of
    the next inherit. Only the part of each file the range covers is read, found by bisection
    (files are mapped, not copied); ``TooMuch``, before any line is parsed, when that is more than
    ``MAX_WINDOW_BYTES`` altogether."""
    low = format_timestamp(datetime.fromisoformat(start) - _SLACK)
    high = format_timestamp(datetime.fromisoformat(end) + _SLACK)
    oldest_write = datetime.fromisoformat(start).timestamp() - _SLACK.total_seconds()
    segments: list[tuple[str, Path, int, int, bytes, str]] = []
    total = 0
    for program, files in log_files(log_dir).items():
        carry = b""  # the start of a line rotation cut, which ends in the next (newer) file
        for path in reversed([path for path in files if mtime(path) >= oldest_write]):
            with _mapped(path) as buf:
                if buf is None:
                    continue
                cut = buf.rfind(b"\n") + 1  # a line still being written is left for later
                lo, hi = _seek(buf, low, 0, cut, before=True), _seek(buf, high, 0, cut, before=False)
                prefix = carry if lo == 0 else b""
                if hi > lo:
                    total += hi - lo
                    segments.append((program, path, lo, hi, prefix, _key_before(buf, lo) or start))
                carry = b"" if is_current(path) or cut == len(buf) else bytes(buf[cut:])
    if total > MAX_WINDOW_BYTES:
        raise TooMuch(total)
    for program, path, lo, hi, prefix, previous in segments:
        with _mapped(path) as buf:
            if buf is None or len(buf) < hi:  # truncated since: what is left is read next time
                continue
            at = lo
            while at < hi:
                stop = hi if hi - at <= _BLOCK else buf.rfind(b"\n", at, at + _BLOCK) + 1 or hi
                block = prefix + buf[at:stop]
                prefix, at = b"", stop
                previous = yield program, block, previous


def _candidates(block: bytes, program: str, query: LogQuery) -> list[bytes]:
    """The lines of ``block`` that hold the literals every match of ``query`` must hold (the quoted
    level names, the service, the ``|=`` text), in file order, found as the engine finds them: by
    searching the block for the most selective one, so other lines are never even split out. A
    keyless line among them takes the time of the candidate before it, not of the line before it."""
    matcher = EngineMatcher(_prefilter(query, datetime.now(UTC), 0), program)
    if matcher.primary is None:
        return block.split(b"\n")
    found = [block[start:end] for start, end in matcher.spans(block, 0, len(block))]
    found = [raw for raw in found if matcher.literals(raw)]
    found.reverse()
    return found


def _parsed(raw: bytes, previous: str) -> tuple[dict | None, str]:
    """A line's JSON fields (None: plain text) and key (a line without a time: ``previous``), the
    kit's own timestamp taken as it is, since nearly every line has one."""
    fields = None
    if raw[:1] == b"{":
        try:
            fields = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if type(fields) is not dict:
                fields = None
    if fields is None:
        return None, key_of_text(raw) or previous
    stamp = fields.get("timestamp")
    if type(stamp) is str and len(stamp) == 24 and stamp[10] == "T" and stamp[23] == "Z":
        return fields, stamp
    return fields, key_of_timestamp(stamp) or previous


def _window(
    log_dir: Path, start: str, end: str, query: LogQuery
) -> Iterator[tuple[str, str, bytes, dict | None]]:
    """(key, program, raw, fields) of the lines from ``start`` to ``end`` (keys) that hold the
    literals any match of ``query`` holds (the exact check is the caller's), as ``_blocks``."""
    blocks = _blocks(log_dir, start, end)
    previous = None
    try:
        while True:
            program, block, previous = blocks.send(previous)
            for raw in _candidates(block, program, query):
                if raw:
                    fields, previous = _parsed(raw, previous)
                    if start <= previous <= end:
                        yield previous, program, raw, fields
    except StopIteration:
        return


@contextmanager
def _mapped(path: Path) -> Iterator[mmap.mmap | None]:
    """The file's bytes, mapped read-only; None when it is gone or empty."""
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield buf
    except (FileNotFoundError, ValueError):  # ValueError: an empty file cannot be mapped
        yield None


def _key_at(buf: bytes | mmap.mmap, start: int, limit: int = 50) -> str | None:
    """The key of the first line from ``start`` that has one (looking at up to ``limit`` lines)."""
    for _ in range(limit):
        if start >= len(buf):
            return None
        end = buf.find(b"\n", start)
        end = len(buf) if end < 0 else end
        raw = buf[start:end]
        if key := own_key(raw, parse_json(raw)):
            return key
        start = end + 1
    return None


def _key_before(buf: bytes | mmap.mmap, offset: int, limit: int = 50) -> str | None:
    end = offset - 1
    for _ in range(limit):
        if end <= 0:
            return None
        start = buf.rfind(b"\n", 0, end) + 1
        raw = buf[start:end]
        if key := own_key(raw, parse_json(raw)):
            return key
        end = start - 1
    return None


def _seek(buf: bytes | mmap.mmap, key: str, lo: int, hi: int, before: bool) -> int:
    """A line start with (nearly) every line before it older than ``key``, by bisection over the
    file's lines, which are in time order but for small steps the slack covers. A stretch without
    a timestamp counts as after ``key`` for the range's start and before it for its end, so the
    range only ever grows."""
    while True:
        mid = (lo + hi) // 2
        start = buf.find(b"\n", mid, hi) + 1
        if start == 0 or start >= hi:
            return lo if before else hi
        found = _key_at(buf, start)
        if (found is None and before) or (found is not None and found >= key):
            hi = start
        else:
            lo = start


# ---------------------------------------------------------------- frames


def log_line(line: Line) -> dict:
    """A line as the browser gets it (the plan's LogLine); ``key`` is stable, so a page can tell a
    line it already shows."""
    digest = hashlib.blake2b(line.raw, digest_size=6).hexdigest()
    fields = line.fields
    when = datetime.fromisoformat(line.key)
    level = fields.get("level") if fields else None
    trace = fields.get("trace_id") if fields else None
    return {
        "key": f"{line.key} {line.program} {digest}",
        "ms": int(when.timestamp() * 1000),
        "program": line.program,
        "service": (fields.get("service") if fields else None) or base(line.program),
        "level": level.lower() if isinstance(level, str) else None,
        "message": str(fields.get("event", "")) if fields else line.raw.decode(errors="replace"),
        "traceId": trace if isinstance(trace, str) else None,
        "fields": fields,
        "raw": line.raw.decode(errors="replace"),
    }


def unsupported(expr: str, what: str) -> dict:
    return {
        "kind": "unsupported",
        "message": f"production only: needs Loki ({what} is outside the local subset: {SUBSET})",
        "query": expr,
    }


def _error(expr: str, message: str) -> dict:
    return {"kind": "error", "message": message, "query": expr}


def _key(ms: float) -> str:
    return format_timestamp(datetime.fromtimestamp(ms / 1000, UTC))


def run(
    expr: str,
    start_ms: int,
    end_ms: int,
    step_seconds: float,
    log_dir: Path,
    limit: int = 1000,
    legend_format: str | None = None,
) -> dict:
    """One Loki target's frame: "logs" for a log query (the last ``limit`` lines, oldest first),
    "series" for a metric query (one point a step; null where Loki has no sample), "unsupported"
    outside the subset, "error" for a query Loki would refuse too or a range too large to count."""
    start_ms, end_ms = int(start_ms), int(end_ms)
    try:
        query = parse(expr)
    except Unsupported as what:
        return unsupported(expr, str(what))
    except LogQLError as error:
        return _error(expr, f"LogQL: {error}")
    if end_ms < start_ms:
        return _error(expr, "the time range ends before it starts")
    if not log_dir.is_dir():
        return _error(expr, f"no logs: {log_dir} does not exist; run `make up` (or `airscope up`)")
    start, end = _key(start_ms), _key(end_ms)
    try:
        if isinstance(query, LogQuery):
            limit = max(1, min(limit, MAX_LIMIT))
            lines = _search(LogStore(log_dir), query, start, end, limit)
            return {"kind": "logs", "lines": [log_line(line) for line in lines], "query": expr}
        return _series(query, expr, start_ms, end_ms, step_seconds, log_dir, legend_format)
    except TooMuch as too_much:
        return _error(
            expr,
            f"the time range holds {too_much.args[0] // 2**20} MiB of log lines, more than the "
            f"{MAX_WINDOW_BYTES // 2**20} MiB the console counts within its 2 s goal: choose a shorter range",
        )


class _TooManySeries(Exception):
    pass


def _count(query: MetricQuery, log_dir: Path, origin: int, last: int, width: int, size: int) -> dict:
    """Each series' line counts per bucket of ``width`` ms after ``origin``: the one loop over
    every line of the range, kept lean (a label set's verdict and group are worked out once)."""
    loads, JSONDecodeError = orjson.loads, orjson.JSONDecodeError
    judge = _Judge(query.logs)
    plain = not (query.logs.line_filters or query.logs.json or query.logs.label_filters)
    verdicts: dict[object, tuple | None] = {}  # stream -> series identity, or None: not matched
    series: dict[tuple, _Counts] = {}
    # Bucket j ends at bounds[j]: a line's bucket is found by bisection on its key, unparsed.
    bounds = [_key(origin + j * width) for j in range(size)]
    start, end = _key(origin + 1), _key(last)
    blocks = _blocks(log_dir, start, end)
    previous = None
    try:
        while True:
            program, block, previous = blocks.send(previous)
            for raw in _candidates(block, program, query.logs):
                if not raw:
                    continue
                # _parsed, inlined: this loop runs once a line, a million times for a million lines
                fields = None
                if raw[:1] == b"{":
                    try:
                        fields = loads(raw)
                    except JSONDecodeError:
                        pass
                    else:
                        if type(fields) is not dict:
                            fields = None
                if fields is None:
                    previous = key_of_text(raw) or previous
                else:
                    stamp = fields.get("timestamp")
                    if type(stamp) is str and len(stamp) == 24 and stamp[10] == "T" and stamp[23] == "Z":
                        previous = stamp
                    else:
                        previous = key_of_timestamp(stamp) or previous
                if not start <= previous <= end:
                    continue
                if plain:
                    if fields is None:
                        stream: object = program
                    elif fields.get("logger") == "access" and _is_probe(fields):
                        continue
                    else:
                        stream = (fields.get("service"), fields.get("level"))
                    if stream in verdicts:
                        identity = verdicts[stream]
                    else:
                        identity = verdicts[stream] = _identity(judge(program, raw, fields), query, series)
                else:
                    identity = _identity(judge(program, raw, fields), query, series)
                if identity is None:
                    continue
                bucket = bisect_left(bounds, previous)  # keys compare as times do
                if 0 < bucket < size:
                    counts = series[identity]
                    if not counts.buckets:
                        counts.buckets = [0] * size
                    counts.buckets[bucket] += 1
    except StopIteration:
        pass
    return {identity: counts for identity, counts in series.items() if counts.buckets}


def _identity(
    labels: dict[str, str] | None, query: MetricQuery, series: dict[tuple, _Counts]
) -> tuple | None:
    """The series a matched line counts in (registered in ``series``); None for a line not matched."""
    if labels is None:
        return None
    grouped = query.group(labels)
    identity = tuple(sorted(grouped.items()))
    if identity not in series:
        if len(series) >= MAX_SERIES:
            raise _TooManySeries
        series[identity] = _Counts(grouped)
    return identity


@dataclass
class _Counts:
    labels: dict[str, str]
    buckets: list[int] = field(default_factory=list)


def _series(
    query: MetricQuery,
    expr: str,
    start_ms: int,
    end_ms: int,
    step_seconds: float,
    log_dir: Path,
    legend_format: str | None,
) -> dict:
    step = max(1, round(step_seconds * 1000))
    window = round(query.range_seconds * 1000)
    first = start_ms // step * step  # steps aligned to multiples of the step, as Grafana asks Loki
    points = (end_ms - first) // step + 1
    if points > MAX_POINTS:
        return _error(expr, f"{points} points a series, more than Loki's {MAX_POINTS}: use a larger step")
    # Each line falls in one bucket of width g (the greatest common divisor of step and range); a
    # point sums the buckets of its range, so counting is one pass however ranges overlap.
    width = math.gcd(step, window)
    origin = first - window  # bucket j holds lines in (origin + (j-1)·width, origin + j·width]
    size = ((points - 1) * step + window) // width + 1
    if size > MAX_BUCKETS:
        return _error(
            expr, f"the range [{query.range_seconds:g}s] and step {step_seconds:g}s are too fine to count"
        )
    try:
        series = _count(query, log_dir, origin, first + (points - 1) * step, width, size)
    except _TooManySeries:
        return _error(expr, f"more than {MAX_SERIES} series (Loki's limit): aggregate with sum by (…)")
    per_second = query.function == "rate"
    out = []
    for counts in series.values():
        prefix = [0]
        for count in counts.buckets:
            prefix.append(prefix[-1] + count)
        values = []
        for k in range(points):
            total = prefix[(k * step + window) // width + 1] - prefix[k * step // width + 1]
            value = total / query.range_seconds if per_second else total
            values.append([first + k * step, value if total else None])
        out.append({"name": _legend(counts.labels, legend_format), "labels": counts.labels, "points": values})
    out.sort(key=lambda s: s["name"])
    return {"kind": "series", "series": out, "exemplars": [], "expr": expr, "step": step / 1000}


def _legend(labels: dict[str, str], legend_format: str | None) -> str:
    """``legendFormat`` with ``{{label}}`` filled in; without one, Grafana's ``{a="x", b="y"}``."""
    if legend_format:
        return re.sub(
            r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: labels.get(m[1], ""), legend_format
        )
    return "{" + ", ".join(f'{name}="{value}"' for name, value in sorted(labels.items())) + "}"
