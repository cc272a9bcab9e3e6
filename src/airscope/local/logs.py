"""``airscope logs``: every program's lines under ``log/`` (current files and rotated backups), filtered,
merged by timestamp across programs, and followed; and the retention of rotated backups.

supervisord writes each program's output to ``<program>.log`` and rotates it into ``.1``, ``.2``...
(newest first). Services write JSON lines (see docs/telemetry.md); other programs plain text.

Speed comes from touching as little as possible: each file is searched for a literal that any match
must contain (the trace id, the level's quoted name, the --grep text) with ``bytes.rfind``, and only
the lines around a hit are parsed, with orjson. Files are read newest first and each program stops at
--limit matches: the last N lines of all programs merged are among each program's own last N.
"""

from __future__ import annotations

import heapq
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import click
import orjson

from airscope.local import paths

LEVELS = ("debug", "info", "warning", "error", "critical")
_RANK = {name: rank for rank, name in enumerate(LEVELS)} | {"warn": 2, "fatal": 4}

MAX_BYTES_ENV = "AIRSCOPE_LOG_MAX_BYTES"
MAX_AGE_ENV = "AIRSCOPE_LOG_MAX_AGE"
DEFAULT_MAX_BYTES = "50MB"  # per program, current file included: 5 of supervisord's 10 MB files
DEFAULT_MAX_AGE = "7d"  # a week of history for a local machine, whatever the traffic

_LOG_NAME = re.compile(r"(?P<program>.+)\.log(?:\.(?P<backup>\d+))?")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
# Where plain-text programs put their time: ISO 8601 (PostgreSQL, supervisord, Prometheus' ts=...)
# or Redis' "28 Nov 2026 02:03:56.214". Without a zone it is the machine's local time.
_TEXT_TIME = re.compile(
    rb"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))? ?(Z|UTC|[+-]\d{2}:?\d{2})?"
)
_REDIS_TIME = re.compile(rb"(\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2})(?:\.(\d+))?")
SINCE_SLACK = timedelta(minutes=1)
_TEXT_TIME_WITHIN = 80  # bytes from a line's start
_NEEDS_QUOTES = re.compile(r'[\s"=]').search
_SHOWN_LAST = ("logger", "trace_id", "span_id", "request_id")  # after the fields that say what happened


# --- time, size and duration --------------------------------------------------------------------------


def format_timestamp(moment: datetime) -> str:
    """RFC 3339, UTC, milliseconds: the kit's own timestamp format, so keys compare as strings."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _key_of_timestamp(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 24 and value[10] == "T" and value[-1] == "Z":
        return value  # the kit's format, nearly every line
    try:
        moment = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return format_timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _key_of_text(raw: bytes) -> str | None:
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


def _parse_json(raw: bytes) -> dict | None:
    if raw[:1] != b"{":
        return None
    try:
        fields = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return fields if isinstance(fields, dict) else None


def _own_key(raw: bytes, fields: dict | None) -> str | None:
    return _key_of_timestamp(fields.get("timestamp")) if fields is not None else _key_of_text(raw)


def parse_duration(text: str) -> timedelta:
    """``30s``, ``10m``, ``2h``, ``1d``, ``1w``."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 10m, 2h or 1d")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[match[2]]
    return timedelta(seconds=float(match[1]) * unit)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An age (``10m``, ``2h``, ``1d``) back from now, or an RFC 3339 time (UTC when it names no zone)."""
    try:
        return (now or datetime.now(UTC)) - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an age (10m, 2h, 1d) nor an RFC 3339 time (2026-11-28T14:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_size(text: str) -> int:
    """Bytes, or a number with K, M or G (binary multiples, as supervisord counts them)."""
    match = re.fullmatch(r"(\d+)\s*(?:([kmg])i?)?b?", text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size such as 50MB, 500KB or 1GB")
    return int(match[1]) * 1024 ** " kmg".index(match[2] or " ")


# --- the files ----------------------------------------------------------------------------------------


def log_files(log_dir: Path) -> dict[str, list[Path]]:
    """Each program's log files, newest first: ``<program>.log``, then ``.log.1``, ``.log.2``..."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for path in log_dir.glob("*.log*"):
        if match := _LOG_NAME.fullmatch(path.name):
            found.setdefault(match["program"], []).append((int(match["backup"] or 0), path))
    return {program: [path for _, path in sorted(files)] for program, files in sorted(found.items())}


def _is_current(path: Path) -> bool:
    return path.name.endswith(".log")


def _ends_with_newline(path: Path) -> bool:
    """False when supervisord rotated this file in the middle of a line (it cuts where a read ended)."""
    try:
        with path.open("rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return True
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"
    except FileNotFoundError:
        return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("-inf")


def _first_line(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.readline()
    except FileNotFoundError:
        return b""


def _complete_end(file: BinaryIO, size: int) -> int:
    """The offset just after the file's last newline: a line still being written is not read yet."""
    end = size
    while end > 0:
        start = max(0, end - 65536)
        file.seek(start)
        newline = file.read(end - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


# --- the query ----------------------------------------------------------------------------------------


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


def _base(program: str) -> str:
    return program.partition("@")[0]


class _Matcher:
    """Decides which lines of one program match a query: literals first, parsed fields after."""

    def __init__(self, query: Query, program: str) -> None:
        self.query = query
        self.program = program
        self.min_rank = _RANK[query.level] if query.level else None
        self.since = format_timestamp(query.since) if query.since else None
        self.since_seconds = query.since.timestamp() if query.since else float("-inf")
        # A program's lines are in time order, but for clock steps: past this, no older line can match.
        self.older_than_since = format_timestamp(query.since - SINCE_SLACK) if query.since else ""
        # Plain lines of this program match --service through its name; its JSON lines need the field.
        self.text_allowed = not query.json_only and (not query.services or _base(program) in query.services)
        # Literals every matching line contains, most selective first; one of each tuple.
        groups: list[tuple[bytes, ...]] = []
        if query.trace:
            groups.append((query.trace.encode(),))
        if query.grep:
            groups.append((query.grep.encode(),))
        if self.min_rank is not None:
            groups.append(
                tuple(f'"{name}"'.encode() for name, rank in _RANK.items() if rank >= self.min_rank)
            )
        if query.services and not self.text_allowed:
            groups.append(tuple(f'"{service}"'.encode() for service in sorted(query.services)))
        self.primary = groups[0] if groups else None
        self.rest = groups[1:]

    def spans(self, buf: bytes, lo: int, hi: int) -> Iterator[tuple[int, int]]:
        """(start, end) of the lines of buf[lo:hi] holding the primary literal, last first."""
        if self.primary is None:
            yield from _lines_backward(buf, lo, hi)
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
            if _RANK.get(level.lower() if isinstance(level, str) else "", -1) < self.min_rank:
                return False
        return not query.trace or fields.get("trace_id") == query.trace

    def recent(self, key: str) -> bool:
        return self.since is None or key >= self.since


def _lines_backward(buf: bytes, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    if hi > lo and buf[hi - 1] == 0x0A:
        hi -= 1
    while hi > lo:
        newline = buf.rfind(b"\n", lo, hi)
        yield (newline + 1 if newline >= 0 else lo), hi
        if newline < 0:
            return
        hi = newline


class _Keys:
    """Sort keys of the keyless lines of one file (a traceback's continuation, a program printing no
    time): the key of the nearest line before with one, so they stay where the file put them; with
    none before, the file's modification time."""

    def __init__(self, buf: bytes, fallback: str) -> None:
        self.buf = buf
        self.fallback = fallback
        self.known: dict[int, str] = {}

    def inherited(self, start: int) -> str:
        visited = []
        position = start
        key = self.fallback
        while position > 0:
            if position in self.known:
                key = self.known[position]
                break
            visited.append(position)
            previous = self.buf.rfind(b"\n", 0, position - 1) + 1
            raw = self.buf[previous : position - 1]
            own = _own_key(raw, _parse_json(raw))
            if own is not None:
                key = own
                break
            position = previous
        for position in visited:
            self.known[position] = key
        return key


class LogStore:
    """The lines under one log directory: ``query`` what is there, then ``follow`` what comes."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        # Where each current file was read up to (inode, offset), so that following goes on from there.
        self._read_up_to: dict[Path, tuple[int, int]] = {}

    def query(self, query: Query) -> Iterator[Line]:
        """The matching lines in timestamp order (the last ``query.limit`` of them)."""
        per_program = [
            self._program_lines(program, files, query) for program, files in log_files(self.log_dir).items()
        ]
        merged = heapq.merge(*per_program, key=lambda line: line.key)
        return iter(deque(merged, maxlen=query.limit)) if query.limit else merged

    def _program_lines(self, program: str, files: list[Path], query: Query) -> Iterator[Line]:
        """The program's matching lines in file order: the last ``query.limit`` read newest first;
        all of them (limit 0) one file at a time, oldest first, so that memory stays one file's."""
        matcher = _Matcher(query, program)
        # Files last written before --since are skipped unread; older backups are older still.
        indexes = [index for index, path in enumerate(files) if _mtime(path) >= matcher.since_seconds]
        if not query.limit:
            return (
                line for index in reversed(indexes) for line in reversed(self._scan(files, index, matcher)[0])
            )
        found: list[Line] = []
        for index in indexes:
            lines, reached_since = self._scan(files, index, matcher, query.limit - len(found))
            found += lines
            if reached_since or len(found) == query.limit:
                break
        return reversed(found)

    def _scan(
        self, files: list[Path], index: int, matcher: _Matcher, limit: int = 0
    ) -> tuple[list[Line], bool]:
        """The matching lines of ``files[index]``, newest first, up to ``limit`` (0: all), and whether
        the scan stopped at lines older than --since."""
        path = files[index]
        try:
            mtime = path.stat().st_mtime
            buf = self._read(path)
        except FileNotFoundError:  # rotated or deleted since listed
            return [], False
        lo = 0
        if index + 1 < len(files) and not _ends_with_newline(files[index + 1]):
            lo = buf.find(b"\n") + 1  # the first line began in the older file, which reads it whole
            if lo == 0:
                return [], False
        if index > 0 and not buf.endswith(b"\n"):
            buf += _first_line(files[index - 1])  # the last line ends in the newer file
        keys = _Keys(buf, format_timestamp(datetime.fromtimestamp(mtime, UTC)))
        found: list[Line] = []
        for start, end in matcher.spans(buf, lo, len(buf)):
            raw = buf[start:end]
            if not raw or not matcher.literals(raw):
                continue
            fields = _parse_json(raw)
            if not matcher.accepts(fields):
                continue
            key = _own_key(raw, fields) or keys.inherited(start)
            if not matcher.recent(key):
                if key < matcher.older_than_since:
                    return found, True
                continue
            found.append(Line(key, matcher.program, raw, fields))
            if len(found) == limit:
                break
        return found, False

    def _read(self, path: Path) -> bytes:
        if not _is_current(path):
            return path.read_bytes()
        with path.open("rb") as file:
            inode = os.fstat(file.fileno()).st_ino
            data = file.read()
        end = data.rfind(b"\n") + 1  # a line still being written is left for the next read
        self._read_up_to[path] = (inode, end)
        return data[:end]

    def follow(self, query: Query, deadline: float | None = None, interval: float = 0.25) -> Iterator[Line]:
        """New matching lines of every current file as they come, from where ``query`` read (or from
        now), through rotation and new programs, until ``deadline`` (time.monotonic()) if given."""
        tails: dict[str, _Tail] = {}
        first = True
        try:
            while True:
                batches = []
                for path in sorted(self.log_dir.glob("*.log")):
                    program = path.name.removesuffix(".log")
                    tail = tails.get(program)
                    if tail is None:
                        matcher = _Matcher(query, program)
                        # A file that appears while following is all new: read from its start.
                        resume = self._read_up_to.get(path) if first else (None, 0)
                        tail = tails[program] = _Tail(path, matcher, resume)
                    batches.append(tail.poll())
                first = False
                yield from heapq.merge(*batches, key=lambda line: line.key)
                if deadline is not None and time.monotonic() >= deadline:
                    return
                time.sleep(
                    interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic()))
                )
        finally:
            for tail in tails.values():
                tail.close()


class _Tail:
    """One program's current file followed like ``tail -F``: read to the end on every poll; when the
    name points at a new file (rotation), finish the old one first, then read the new from its start."""

    def __init__(self, path: Path, matcher: _Matcher, resume: tuple[int | None, int] | None) -> None:
        """``resume``: (inode, offset) where a query stopped reading, (None, 0) for the start, None for
        the end."""
        self.path = path
        self.matcher = matcher
        self.partial = b""
        self.last_key: str | None = None
        self.file: BinaryIO | None = None
        try:
            self.file = path.open("rb")
        except FileNotFoundError:
            return
        stat = os.fstat(self.file.fileno())
        if resume is not None and resume[0] in (None, stat.st_ino) and resume[1] <= stat.st_size:
            self.file.seek(resume[1])
        else:
            self.file.seek(_complete_end(self.file, stat.st_size))

    def poll(self) -> list[Line]:
        data = b""
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        if self.file is not None:
            data = self.file.read()
            if current is not None and current.st_ino != os.fstat(self.file.fileno()).st_ino:
                self.file.close()
                self.file = None
            elif current is not None and current.st_size < self.file.tell():  # truncated
                self.file.seek(0)
                self.partial, data = b"", self.file.read()
        if self.file is None and current is not None:
            try:
                self.file = self.path.open("rb")
            except FileNotFoundError:
                return []
            data += self.file.read()
        data = self.partial + data
        complete = data.rfind(b"\n") + 1
        self.partial = data[complete:]
        return self._lines(data[:complete].splitlines())

    def _lines(self, raws: Iterable[bytes]) -> list[Line]:
        program = self.path.name.removesuffix(".log")
        lines = []
        for raw in raws:
            if not raw:
                continue
            fields = _parse_json(raw)
            key = _own_key(raw, fields) or self.last_key or format_timestamp(datetime.now(UTC))
            self.last_key = key
            matcher = self.matcher
            if matcher.literals(raw, primary=True) and matcher.accepts(fields) and matcher.recent(key):
                lines.append(Line(key, program, raw, fields))
        return lines

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


# --- output -------------------------------------------------------------------------------------------

_LEVEL_STYLE = {"debug": {"dim": True}, "warning": {"fg": "yellow"}, "error": {"fg": "red"}}
_LEVEL_STYLE |= {"warn": _LEVEL_STYLE["warning"], "critical": {"fg": "red", "bold": True}}


def render(line: Line, color: bool = False) -> str:
    """``HH:MM:SS.mmm LEVEL service  event  key=value ...``; a multi-line value (a traceback) follows
    on its own indented lines; a plain-text line is shown after its program's name."""
    clock = line.key[11:23]
    if line.fields is None:
        return f"{clock} {'':8} {line.program:<20} {line.raw.decode(errors='replace')}"
    fields = dict(line.fields)
    level = str(fields.pop("level", "-"))
    service = str(fields.pop("service", line.program))
    if _base(line.program) == service:
        service = line.program  # which instance of a scaled service
    event = str(fields.pop("event", ""))
    fields.pop("timestamp", None)
    if isinstance(fields.get("trace_id"), str):
        fields["trace_id"] = fields["trace_id"][:8]
    shown = [key for key in fields if key not in _SHOWN_LAST] + [key for key in _SHOWN_LAST if key in fields]
    pairs, blocks = [], []
    for key in shown:
        value = fields[key]
        if isinstance(value, str) and "\n" in value:
            blocks += [f"  {key}:", *("    " + part for part in value.rstrip().splitlines())]
        else:
            pairs.append(f"{key}={_value(value)}")
    level_text = f"{level.upper():<8}"
    if color:
        level_text = click.style(level_text, **_LEVEL_STYLE.get(level.lower(), {}))
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


# --- retention ----------------------------------------------------------------------------------------


def retention_settings(environ: Mapping[str, str] = os.environ) -> tuple[int, timedelta]:
    """The retention of rotated logs: $AIRSCOPE_LOG_MAX_BYTES per program and $AIRSCOPE_LOG_MAX_AGE."""
    try:
        max_bytes = parse_size(environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES))
    except ValueError as error:
        raise click.ClickException(f"${MAX_BYTES_ENV}: {error}; unset it for {DEFAULT_MAX_BYTES}") from None
    try:
        max_age = parse_duration(environ.get(MAX_AGE_ENV, DEFAULT_MAX_AGE))
    except ValueError as error:
        raise click.ClickException(f"${MAX_AGE_ENV}: {error}; unset it for {DEFAULT_MAX_AGE}") from None
    return max_bytes, max_age


def apply_retention(
    log_dir: Path,
    max_bytes_per_program: int | None = None,
    max_age: timedelta | None = None,
    *,
    now: float | None = None,
) -> list[Path]:
    """Deletes each program's rotated backups that are older than ``max_age`` or, counting from the
    newest (current file included), beyond ``max_bytes_per_program`` in total. The current file is
    never deleted. None: the setting from the environment (``retention_settings``). Returns the
    deleted files."""
    if max_bytes_per_program is None or max_age is None:
        env_bytes, env_age = retention_settings()
        max_bytes_per_program = env_bytes if max_bytes_per_program is None else max_bytes_per_program
        max_age = env_age if max_age is None else max_age
    oldest = (time.time() if now is None else now) - max_age.total_seconds()
    deleted = []
    for files in log_files(log_dir).values():
        total = 0
        for path in files:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            # Not subtracted when deleted: a smaller, older backup kept after a deleted one leaves a gap.
            total += stat.st_size
            if not _is_current(path) and (total > max_bytes_per_program or stat.st_mtime < oldest):
                path.unlink(missing_ok=True)
                deleted.append(path)
    return deleted


# --- the command --------------------------------------------------------------------------------------


def _trace_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _TRACE_ID.fullmatch(value.lower()):
        raise click.BadParameter(f"{value!r} is not a trace id (32 hex digits, as in X-Trace-Id)")
    return value.lower() if value else None


def _since_option(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    try:
        return parse_since(value) if value else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command("logs")
@click.option(
    "-s",
    "--service",
    "services",
    multiple=True,
    metavar="NAME",
    help="Only this service (repeatable): the line's service field; for plain-text lines, the program.",
)
@click.option("--level", type=click.Choice(LEVELS, case_sensitive=False), help="This level and above.")
@click.option(
    "--trace",
    "trace",
    metavar="TRACE_ID",
    callback=_trace_option,
    help="Only the lines of this trace (32 hex digits, the X-Trace-Id response header).",
)
@click.option(
    "--since",
    metavar="AGE|TIME",
    callback=_since_option,
    help="Only lines from then on: an age (10m, 2h, 1d) or an RFC 3339 time (UTC if no zone).",
)
@click.option("--grep", metavar="TEXT", help="Only lines containing TEXT (case-sensitive, in the raw line).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Print the JSON lines as written (plain-text lines as {timestamp, program, text}).",
)
@click.option(
    "-n",
    "--limit",
    default=200,
    show_default=True,
    type=click.IntRange(min=0),
    help="The last N matching lines; 0 for all.",
)
def logs_command(
    services: tuple[str, ...],
    level: str | None,
    trace: str | None,
    since: datetime | None,
    grep: str | None,
    follow: bool,
    json_output: bool,
    limit: int,
) -> None:
    """The logs of every program (var/log, rotated files included), merged in timestamp order.

    Plain-text lines (PostgreSQL, Redis, Prometheus...) are left out by --level and --trace."""
    log_dir = paths.log_dir()
    if not log_dir.is_dir():
        raise click.ClickException(
            f"no logs: {log_dir} does not exist; run `airscope up` (or set $AIRSCOPE_HOME)"
        )
    query = Query(frozenset(services), level.lower() if level else None, trace, since, grep, limit)
    store = LogStore(log_dir)
    programs = log_files(log_dir)
    known = sorted({_base(program) for program in programs})
    unknown = sorted(set(services) - set(known))
    if unknown:
        click.echo(f"no log file for {', '.join(unknown)} (there are: {', '.join(known)})", err=True)
    out = sys.stdout.buffer
    color = not json_output and out.isatty() and "NO_COLOR" not in os.environ

    def write(lines: Iterable[Line]) -> int:
        count = 0
        for line in lines:
            out.write(as_json(line) + b"\n" if json_output else (render(line, color) + "\n").encode())
            count += 1
        out.flush()
        return count

    try:
        if not write(store.query(query)) and not follow:
            click.echo(
                f"no matching line in {sum(map(len, programs.values()))} files under {log_dir}", err=True
            )
        if follow:
            for line in store.follow(query):  # each line flushed, for whoever reads the output live
                write([line])
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # `airscope logs | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
