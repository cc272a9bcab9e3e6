"""Following one program's current log file like ``tail -F``, through rotation and truncation."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from airscope.local.logs.files import complete_end
from airscope.local.logs.query import Line, Matcher
from airscope.local.logs.timestamps import format_timestamp, own_key, parse_json


class Tail:
    """One program's current file followed like ``tail -F``: read to the end on every poll; when the
    name points at a new file (rotation), finish the old one first, then read the new from its start."""

    def __init__(self, path: Path, matcher: Matcher, resume: tuple[int | None, int] | None) -> None:
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
            self.file.seek(complete_end(self.file, stat.st_size))

    def poll(self) -> list[Line]:
        """The matching lines completed since the last poll."""
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
            fields = parse_json(raw)
            key = own_key(raw, fields) or self.last_key or format_timestamp(datetime.now(UTC))
            self.last_key = key
            matcher = self.matcher
            if matcher.literals(raw, primary=True) and matcher.accepts(fields) and matcher.recent(key):
                lines.append(Line(key, program, raw, fields))
        return lines

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
