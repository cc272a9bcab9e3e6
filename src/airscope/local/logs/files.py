"""The log files: each program's ``<program>.log`` and the backups supervisord rotated it into
(``.log.1``, ``.log.2``..., newest first), read with care for lines rotation cut and lines still
being written."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

from airscope.local import LocalError, paths

_LOG_NAME = re.compile(r"(?P<program>.+)\.log(?:\.(?P<backup>\d+))?")


def existing_log_dir() -> Path:
    """The log directory of local mode; ``LocalError`` saying how to get one when there is none."""
    log_dir = paths.log_dir()
    if not log_dir.is_dir():
        raise LocalError(f"no logs: {log_dir} does not exist; run `airscope up` (or set $AIRSCOPE_HOME)")
    return log_dir


def log_files(log_dir: Path) -> dict[str, list[Path]]:
    """Each program's log files, newest first: ``<program>.log``, then ``.log.1``, ``.log.2``..."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for path in log_dir.glob("*.log*"):
        if match := _LOG_NAME.fullmatch(path.name):
            found.setdefault(match["program"], []).append((int(match["backup"] or 0), path))
    return {program: [path for _, path in sorted(files)] for program, files in sorted(found.items())}


def base(program: str) -> str:
    """The service of a program: ``api-gateway`` for ``api-gateway@2``."""
    return program.partition("@")[0]


def is_current(path: Path) -> bool:
    return path.name.endswith(".log")


def ends_with_newline(path: Path) -> bool:
    """False when supervisord rotated this file in the middle of a line (it cuts where a read ended)."""
    try:
        with path.open("rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return True
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"
    except FileNotFoundError:
        return True


def mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("-inf")


def first_line(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.readline()
    except FileNotFoundError:
        return b""


def complete_end(file: BinaryIO, size: int) -> int:
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
