"""How much rotated log history local mode keeps: each program's backups beyond a total size or an
age are deleted (``airscope up`` applies it); the current file never is."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from airscope.local import LocalError, settings
from airscope.local.logs.files import is_current, log_files
from airscope.telemetry import ConfigError

MAX_BYTES_ENV = settings.LOG_MAX_BYTES_ENV
MAX_AGE_ENV = settings.LOG_MAX_AGE_ENV
DEFAULT_MAX_BYTES = settings.LocalSettings.model_fields["log_max_bytes"].default
DEFAULT_MAX_AGE = settings.LocalSettings.model_fields["log_max_age"].default


def retention_settings(environ: Mapping[str, str] = os.environ) -> tuple[int, timedelta]:
    """The retention of rotated logs: $AIRSCOPE_LOG_MAX_BYTES per program and $AIRSCOPE_LOG_MAX_AGE
    (``airscope.local.settings``), in airscope.units' grammar."""
    read = {}
    for field, name, default in (
        ("log_max_bytes", MAX_BYTES_ENV, DEFAULT_MAX_BYTES),
        ("log_max_age", MAX_AGE_ENV, DEFAULT_MAX_AGE),
    ):
        try:  # one variable at a time, so the error's hint names that variable's default
            read[field] = getattr(settings.LocalSettings.from_env({name: environ.get(name, "")}), field)
        except ConfigError as error:
            raise LocalError(f"{str(error).rstrip('.')}. Unset it for {default}.") from None
    return read["log_max_bytes"], timedelta(seconds=read["log_max_age"])


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
