"""A time range's lines read straight from the files: only the bytes it covers, found by bisection."""

from __future__ import annotations

import mmap
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from airscope.console.logql.match import prefilter
from airscope.console.logql.parse import LogQuery
from airscope.local.logs import format_timestamp, log_files
from airscope.local.logs.files import is_current, mtime
from airscope.local.logs.query import Matcher as EngineMatcher
from airscope.local.logs.timestamps import key_of_text, key_of_timestamp, own_key, parse_json

# Past this many bytes of lines in a metric query's range, counting would take longer than the
# engine's 2 s goal (parsing every line: about 2.5 s for a million lines, 300 MB, on a quiet 2-core
# machine): the user narrows the range instead of waiting.
MAX_WINDOW_BYTES = 160 * 1024 * 1024
_SLACK = timedelta(minutes=1)  # lines slightly out of time order (clock steps, threads) still found


class TooMuch(Exception):
    """The query would read or count more than the console can within the engine's 2 s goal
    (``args[0]``: what and how to narrow it)."""


_BLOCK = 8 * 1024 * 1024  # bytes parsed at a time: the console's memory stays small whatever the range


def blocks(log_dir: Path, start: str, end: str) -> Generator[tuple[str, bytes, str], str | None, None]:
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
        raise TooMuch(
            f"the time range holds {total // 2**20} MiB of log lines, more than the "
            f"{MAX_WINDOW_BYTES // 2**20} MiB the console counts within its 2 s goal: choose a shorter range"
        )
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


def candidates(block: bytes, program: str, query: LogQuery) -> list[bytes]:
    """The lines of ``block`` that hold the literals every match of ``query`` must hold (the quoted
    level names, the service, the ``|=`` text), in file order, found as the engine finds them: by
    searching the block for the most selective one, so other lines are never even split out. A
    keyless line among them takes the time of the candidate before it, not of the line before it."""
    matcher = EngineMatcher(prefilter(query, datetime.now(UTC), 0), program)
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


def lines(
    log_dir: Path, start: str, end: str, query: LogQuery
) -> Iterator[tuple[str, str, bytes, dict | None]]:
    """(key, program, raw, fields) of the lines from ``start`` to ``end`` (keys) that hold the
    literals any match of ``query`` holds (the exact check is the caller's), as ``blocks``."""
    reading = blocks(log_dir, start, end)
    previous = None
    try:
        while True:
            program, block, previous = reading.send(previous)
            for raw in candidates(block, program, query):
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


def ms_key(ms: float) -> str:
    """The engine's key (an RFC 3339 time) of epoch milliseconds."""
    return format_timestamp(datetime.fromtimestamp(ms / 1000, UTC))
