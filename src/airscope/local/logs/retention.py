"""How much rotated log history local mode keeps: each program's backups beyond a total size or an
age are deleted (``airscope up`` applies it); the current file never is."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from airscope import units
from airscope.local import LocalError
from airscope.local.logs.files import is_current, log_files

MAX_BYTES_ENV = "AIRSCOPE_LOG_MAX_BYTES"
MAX_AGE_ENV = "AIRSCOPE_LOG_MAX_AGE"
DEFAULT_MAX_BYTES = "50MiB"  # per program, current file included: 5 of supervisord's 10 MB (MiB) files
DEFAULT_MAX_AGE = "7d"  # a week of history for a local machine, whatever the traffic


def retention_settings(environ: Mapping[str, str] = os.environ) -> tuple[int, timedelta]:
    """The retention of rotated logs: $AIRSCOPE_LOG_MAX_BYTES per program and $AIRSCOPE_LOG_MAX_AGE,
    in airscope.units' grammar."""
    try:
        max_bytes = units.parse_size(environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES))
    except ValueError as error:
        raise LocalError(f"${MAX_BYTES_ENV}: {error} Unset it for {DEFAULT_MAX_BYTES}.") from None
    try:
        max_age = units.parse_duration(environ.get(MAX_AGE_ENV, DEFAULT_MAX_AGE))
    except ValueError as error:
        raise LocalError(f"${MAX_AGE_ENV}: {error} Unset it for {DEFAULT_MAX_AGE}.") from None
    return max_bytes, timedelta(seconds=max_age)


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
            if not is_current(path) and (total > max_bytes_per_program or stat.st_mtime < oldest):
                path.unlink(missing_ok=True)
                deleted.append(path)
    return deleted
