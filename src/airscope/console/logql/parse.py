"""The grammar of the LogQL subset the console runs, and why a query falls outside it.

Hand-written: there is no maintained LogQL parser for Python (Loki's is Go, Grafana's a Lezer
grammar for the browser), and the subset is small. ``parse`` answers the query, ``Unsupported``
(valid LogQL outside the subset: the reason) or ``LogQLError`` (a query Loki would refuse too).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from airscope import units

LABELS = ("service", "level")  # the stream labels Alloy sets that exist locally
SUBSET = (
    'the console runs {service|level op "value"} selectors (=, !=, =~, !~), the line filters '
    '|= != |~ !~, | json, label filters like | trace_id="…", and sum [by (labels)] '
    "(count_over_time|rate(…[range]))"
)


class Unsupported(Exception):
    """Valid LogQL (or so it seems) outside the subset: production's Loki answers it, not the console."""


class LogQLError(Exception):
    """A query neither Loki nor the console can run (a syntax error, a bad regex)."""


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
        if in_selector and name not in LABELS:
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
