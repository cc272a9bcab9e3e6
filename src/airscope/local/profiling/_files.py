"""Where profiles go, what they are named, where the local console opens them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airscope.errors import AirscopeError
from airscope.local import observability

STAMP = "%Y%m%dT%H%M%SZ"
CPU_FILE = "cpu.speedscope.json"
MEMORY_FILE = "memory.json"
# The names new_path gives, for whoever reads the directory back (the console); the program is a
# supervisor name (mcp-server, mcp-server@2).
NAME = re.compile(
    r"^(?P<when>\d{8}T\d{6}Z)-(?P<program>[a-z0-9][a-z0-9_.@-]*)-"
    rf"(?:(?P<cpu>{re.escape(CPU_FILE)})|(?P<memory>{re.escape(MEMORY_FILE)}))$"
)


class ProfileError(AirscopeError):
    """A profile cannot be taken; the message names the cause and the fix."""


def profiles_dir(home: Path) -> Path:
    """``<home>/profiles``, created: every profile local mode takes, which the console lists."""
    directory = home / "profiles"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def new_path(out_dir: Path, program: str, kind: str, now: datetime | None = None) -> Path:
    """``<YYYYmmddTHHMMSSZ>-<program>-<kind>`` in ``out_dir``, a second later while the name is taken
    (two profiles of one program within a second keep the pattern the console reads)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    when = now or datetime.now(UTC)
    while (path := out_dir / f"{when.strftime(STAMP)}-{program}-{kind}").exists():
        when += timedelta(seconds=1)
    return path


def taken_at(stamp: str) -> datetime:
    """When a profile was taken, from the stamp that leads its name (NAME's ``when``)."""
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)


def console_url(path: Path) -> str:
    """Where the local console shows the profile ``path`` (a file of ``profiles_dir``)."""
    return f"http://127.0.0.1:{observability.local_ports()['console']}/profiles/{path.name}"
