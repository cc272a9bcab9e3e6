"""Explore's logs: the filters of ``airscope logs`` over HTTP, and a live tail the page polls.

``GET /api/logs?service=a&service=b&level=&trace=&since=15m&q=&limit=200`` answers
``{"lines": [LogLine], "services": [...], "warnings": [...]}``, newest last: the same
``LogStore`` query as the command (``level`` is that level and above, ``q`` a case-sensitive
substring of the raw line, ``since`` an age or an RFC 3339 time), so a search over a million lines
answers within the engine's 2 s.

``GET /api/logs/tail?<same filters>&after=<cursor>`` answers ``{"lines", "next"}``: the matching
lines written after the cursor, and the cursor to send next. The cursor is opaque to the page: it
holds where each program's current file was read up to (inode and offset), so no line is missed or
given twice however many share a millisecond, and a file rotated between two polls is finished
from its backup. Without ``after`` the answer holds the last ``limit`` lines as ``/api/logs`` does,
and a cursor from where they end.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from airscope.console.logql import log_line
from airscope.local import logs
from airscope.local.logs.files import complete_end
from airscope.local.logs.query import Matcher
from airscope.local.logs.timestamps import own_key, parse_json

router = APIRouter()

MAX_LIMIT = 5000  # lines a page can show at once; the engine's work stops at the limit
MAX_TAIL_READ = 4 * 1024 * 1024  # bytes of one file a poll reads at most: the next poll reads on
_Positions = dict[str, tuple[int, int]]  # program -> (inode, offset) of its current file


class _BadCursor(Exception):
    """A tail cursor this console did not give (the message says what to send instead)."""


@dataclass(frozen=True)
class _Filters:
    query: logs.Query
    log_dir: Path


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _filters(
    request: Request,
    service: Annotated[list[str], Query(default_factory=list)],
    level: str | None = None,
    trace: str | None = None,
    since: str | None = None,
    q: str | None = None,
    limit: str | None = None,
) -> _Filters | JSONResponse:
    """The query both routes' filters ask for (a dependency of each), or the 400 saying what is
    wrong and what is accepted."""
    level = (level or "").strip().lower() or None
    if level is not None and level not in logs.LEVELS:
        return _error(400, f"level {level!r} is not one of {', '.join(logs.LEVELS)} (that level and above)")
    try:
        trace_id = logs.parse_trace_id(trace.strip()) if trace and trace.strip() else None
        moment = logs.parse_since(since) if since and since.strip() else None
    except ValueError as error:
        return _error(400, str(error))
    try:
        count = int(limit) if limit not in (None, "") else 200
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_LIMIT:
        return _error(400, f"limit {limit!r} is not a number of lines from 1 to {MAX_LIMIT}")
    services = frozenset(name.strip() for name in service if name.strip())
    query = logs.Query(services, level, trace_id, moment, q or None, count)
    return _Filters(query, Path(request.app.state.config.log_dir))


Filters = Annotated[_Filters | JSONResponse, Depends(_filters)]


@router.get("/api/logs")
def search(filters: Filters) -> Any:
    if isinstance(filters, JSONResponse):
        return filters
    if not filters.log_dir.is_dir():
        return _no_logs(filters.log_dir)
    lines = [log_line(line) for line in logs.LogStore(filters.log_dir).query(filters.query)]
    known = sorted({logs.base(program) for program in logs.log_files(filters.log_dir)})
    unknown = sorted(filters.query.services - set(known))
    warnings = [f"no log file for {', '.join(unknown)} (there are: {', '.join(known)})"] if unknown else []
    return {"lines": lines, "services": known, "warnings": warnings}


@router.get("/api/logs/tail")
def tail(filters: Filters, after: str | None = None) -> Any:
    if isinstance(filters, JSONResponse):
        return filters
    try:
        cursor = _decode(after) if after else None
    except _BadCursor as error:
        return _error(400, str(error))
    if not filters.log_dir.is_dir():
        return _no_logs(filters.log_dir)
    query, log_dir = filters.query, filters.log_dir
    if cursor is None:
        # The last lines, then whatever was written while they were read: together, every line up
        # to the cursor handed back, each once.
        before = _positions(log_dir)
        found = list(logs.LogStore(log_dir).query(query))
        written, cursor = _read_after(log_dir, before, query)
        merged: dict[str, dict] = {}
        for line in heapq.merge(found, written, key=lambda line: line.key):
            out = log_line(line)
            merged[out["key"]] = out
        lines = sorted(merged.values(), key=lambda out: out["key"])[-query.limit :]
    else:
        written, cursor = _read_after(log_dir, cursor, query)
        lines = [log_line(line) for line in written[-query.limit :]]
    return {"lines": lines, "next": _encode(cursor)}


def _no_logs(log_dir: Path) -> JSONResponse:
    return _error(503, f"no logs: {log_dir} does not exist; run `make up` (or `airscope up`)")


def _encode(positions: _Positions) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(positions)).decode().rstrip("=")


def _decode(text: str) -> _Positions:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return {str(program): (int(inode), int(offset)) for program, (inode, offset) in data.items()}
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise _BadCursor(
            f"after={text[:40]!r} is not a cursor this console gave: send the 'next' of the last "
            "answer, or leave after out to start"
        ) from None


def _positions(log_dir: Path) -> _Positions:
    """Where each program's current file ends now (its last whole line)."""
    positions = {}
    for path in log_dir.glob("*.log"):
        try:
            with path.open("rb") as file:
                stat = os.fstat(file.fileno())
                positions[path.name.removesuffix(".log")] = (stat.st_ino, complete_end(file, stat.st_size))
        except FileNotFoundError:
            continue
    return positions


def _read_after(
    log_dir: Path, positions: _Positions, query: logs.Query
) -> tuple[list[logs.Line], _Positions]:
    """The matching lines written after ``positions`` in timestamp order, and the new positions.
    A program's file that is new since (one not in ``positions``) is read from its start."""
    batches, moved = [], {}
    for path in sorted(log_dir.glob("*.log")):
        program = path.name.removesuffix(".log")
        inode, offset = positions.get(program, (None, 0))
        data = b""
        try:
            with path.open("rb") as file:
                stat = os.fstat(file.fileno())
                if inode is not None and stat.st_ino != inode:  # rotated: finish the old file first
                    data = _rest_of_backup(log_dir / f"{program}.log.1", inode, offset)
                    offset = 0
                elif stat.st_size < offset:  # truncated
                    offset = 0
                file.seek(offset)
                chunk = file.read(min(stat.st_size - offset, MAX_TAIL_READ))
        except FileNotFoundError:
            continue
        whole = chunk.rfind(b"\n") + 1  # a line still being written waits for the next poll
        moved[program] = (stat.st_ino, offset + whole)
        batches.append(_matching(program, (data + chunk[:whole]).split(b"\n"), query))
    return list(heapq.merge(*batches, key=lambda line: line.key)), moved


def _rest_of_backup(path: Path, inode: int, offset: int) -> bytes:
    """What was written to a file after ``offset`` before it was rotated to ``path`` (a line that
    rotation cut ends at the start of the new file, read right after it)."""
    try:
        with path.open("rb") as file:
            if os.fstat(file.fileno()).st_ino != inode:
                return b""
            file.seek(offset)
            return file.read(MAX_TAIL_READ)
    except FileNotFoundError:
        return b""


def _matching(program: str, raws: list[bytes], query: logs.Query) -> list[logs.Line]:
    matcher = Matcher(query, program)
    now = logs.format_timestamp(datetime.now(UTC))
    found, last = [], None
    for raw in raws:
        if not raw:
            continue
        fields = parse_json(raw)
        key = own_key(raw, fields) or last or now  # a traceback's continuation: its line's time
        last = key
        if matcher.literals(raw, primary=True) and matcher.accepts(fields) and matcher.recent(key):
            found.append(logs.Line(key, program, raw, fields))
    return found
