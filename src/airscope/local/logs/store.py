"""The lines under one log directory: ``LogStore.query`` what is there, then ``follow`` what comes.

Speed comes from touching as little as possible: each file is searched for a literal that any match
must contain (the trace id, the level's quoted name, the --grep text) with ``bytes.rfind``, and only
the lines around a hit are parsed, with orjson. Files are read newest first and each program stops at
--limit matches: the last N lines of all programs merged are among each program's own last N.
"""

from __future__ import annotations

import heapq
import os
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from airscope.local.logs.files import ends_with_newline, first_line, is_current, log_files, mtime
from airscope.local.logs.follow import Tail
from airscope.local.logs.query import Line, Matcher, Query
from airscope.local.logs.timestamps import format_timestamp, own_key, parse_json


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
            own = own_key(raw, parse_json(raw))
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
        matcher = Matcher(query, program)
        # Files last written before --since are skipped unread; older backups are older still.
        indexes = [index for index, path in enumerate(files) if mtime(path) >= matcher.since_seconds]
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
        self, files: list[Path], index: int, matcher: Matcher, limit: int = 0
    ) -> tuple[list[Line], bool]:
        """The matching lines of ``files[index]``, newest first, up to ``limit`` (0: all), and whether
        the scan stopped at lines older than --since."""
        path = files[index]
        try:
            modified = path.stat().st_mtime
            buf = self._read(path)
        except FileNotFoundError:  # rotated or deleted since listed
            return [], False
        lo = 0
        if index + 1 < len(files) and not ends_with_newline(files[index + 1]):
            lo = buf.find(b"\n") + 1  # the first line began in the older file, which reads it whole
            if lo == 0:
                return [], False
        if index > 0 and not buf.endswith(b"\n"):
            buf += first_line(files[index - 1])  # the last line ends in the newer file
        keys = _Keys(buf, format_timestamp(datetime.fromtimestamp(modified, UTC)))
        found: list[Line] = []
        for start, end in matcher.spans(buf, lo, len(buf)):
            raw = buf[start:end]
            if not raw or not matcher.literals(raw):
                continue
            fields = parse_json(raw)
            if not matcher.accepts(fields):
                continue
            key = own_key(raw, fields) or keys.inherited(start)
            if not matcher.recent(key):
                if key < matcher.older_than_since:
                    return found, True
                continue
            found.append(Line(key, matcher.program, raw, fields))
            if len(found) == limit:
                break
        return found, False

    def _read(self, path: Path) -> bytes:
        if not is_current(path):
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
        tails: dict[str, Tail] = {}
        first = True
        try:
            while True:
                batches = []
                for path in sorted(self.log_dir.glob("*.log")):
                    program = path.name.removesuffix(".log")
                    tail = tails.get(program)
                    if tail is None:
                        # A file that appears while following is all new: read from its start.
                        resume = self._read_up_to.get(path) if first else (None, 0)
                        tail = tails[program] = Tail(path, Matcher(query, program), resume)
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
