"""Where profiles go, what they are named, where the local console opens them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from airscope.errors import AirscopeError
from airscope.local import observability

STAMP = "%Y%m%dT%H%M%SZ"


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


def console_url(path: Path) -> str:
    """Where the local console shows the profile ``path`` (a file of ``profiles_dir``)."""
    return f"http://127.0.0.1:{observability.local_ports()['console']}/profiles/{path.name}"
