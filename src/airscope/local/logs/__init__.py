"""Every program's lines under ``log/`` (current files and rotated backups), filtered, merged by
timestamp across programs, and followed; and the retention of rotated backups. ``airscope logs``
(airscope.cli.logs) is its command.

supervisord writes each program's output to ``<program>.log`` and rotates it into ``.1``, ``.2``...
(newest first). Services write JSON lines (see docs/telemetry.md); other programs plain text.

- ``timestamps``: the sort key of a line, --since, trace ids;
- ``files``: which files a program has, and reading them where rotation cut a line;
- ``query``: what is asked (``Query``), what comes back (``Line``), which lines match (``Matcher``);
- ``store``: ``LogStore``, the lines of a directory, queried and followed (``follow``: one file's tail);
- ``render``: a line as text or JSON; ``retention``: how much history is kept.
"""

from airscope.local.logs.files import base, existing_log_dir, log_files
from airscope.local.logs.query import LEVELS, Line, Query
from airscope.local.logs.render import LevelStyle, as_json, render
from airscope.local.logs.retention import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_BYTES,
    MAX_AGE_ENV,
    MAX_BYTES_ENV,
    apply_retention,
    retention_settings,
)
from airscope.local.logs.store import LogStore
from airscope.local.logs.timestamps import format_timestamp, parse_since, parse_trace_id

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_BYTES",
    "LEVELS",
    "MAX_AGE_ENV",
    "MAX_BYTES_ENV",
    "LevelStyle",
    "Line",
    "LogStore",
    "Query",
    "apply_retention",
    "as_json",
    "base",
    "existing_log_dir",
    "format_timestamp",
    "log_files",
    "parse_since",
    "parse_trace_id",
    "render",
    "retention_settings",
]
