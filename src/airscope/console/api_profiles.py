"""The profiles API of the console: the files `airscope profile` and the drills write to
``<home>/profiles/``, listed, summed up, and served raw to the vendored speedscope.

- ``GET /api/profiles``: every profile, newest first, as ``{"directory": str, "profiles": [Entry]}``;
  an entry names the file, its program, kind (``cpu`` or ``memory``), time, size and top function
  (a CPU profile's by own share, a memory profile's line that grew most), or the problem reading it;
- ``GET /api/profiles/{name}/summary``: one entry with the CPU profile's top functions, or the
  memory profile's whole answer (its lines that grew most);
- ``GET /api/profiles/{name}``: the file itself, what speedscope's ``#profileURL=`` fetches.

Only a name of the two shapes the profiler writes is ever opened, and only inside the directory:
anything else (``..``, a slash, a link out of the directory) is a 404 saying which names exist.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from airscope.local import profiling
from airscope.local.profiling import speedscope

TOP_FUNCTIONS = 15  # a CPU profile's summary: more than the terminal's 10, fewer than a screen
RAW_HEADERS = {"Cache-Control": "no-cache"}

router = APIRouter()


def directory(home: Path) -> Path:
    """Where local mode writes its profiles (created when missing, so the list is merely empty)."""
    return profiling.profiles_dir(home)


def _missing(name: str, where: Path) -> JSONResponse:
    return JSONResponse(
        {
            "message": f"no profile named {name!r} in {where}: profiles are named"
            " <time>-<program>-cpu.speedscope.json or <time>-<program>-memory.json"
            " (see /profiles for the list; `airscope profile SERVICE` takes one)"
        },
        status_code=404,
    )


def _profile(where: Path, name: str) -> Path | None:
    """The profile file ``name`` names in ``where``, or None when the name is not a profile's or the
    file is not there."""
    if not profiling.NAME.match(name):
        return None
    path = where / name
    try:
        # A symbolic link may not lead out of the directory: the name is checked, then where it ends.
        inside = path.resolve(strict=True).parent == where.resolve(strict=True)
    except OSError:
        return None
    return path if inside and path.is_file() else None


def _file(request: Request, name: str) -> Path | None:
    return _profile(directory(request.app.state.config.home), name)


@lru_cache(maxsize=256)
def _cpu_summary(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    """A CPU profile's samples, threads and top functions (kept per file version: read once)."""
    profile = speedscope.read(Path(path))
    functions = speedscope.shares(profile, TOP_FUNCTIONS)
    return {
        "samples": profile.count,
        "threads": len(profile.threads),
        "functions": [{**share.entry(), "file": speedscope.short_file(share.file)} for share in functions],
    }


def _memory_summary(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    lines = [
        {
            "file": speedscope.short_file(str(line["file"])),
            "line": int(line["line"]),
            "grown_bytes": int(line["grown_bytes"]),
            "count": int(line["count"]),
        }
        for line in document.get("top", ())
    ]
    return {
        "seconds": document.get("seconds"),
        "traced_bytes": document.get("traced_bytes"),
        "peak_bytes": document.get("peak_bytes"),
        "lines": lines,
    }


def _entry(path: Path, *, full: bool) -> dict[str, Any]:
    match = profiling.NAME.match(path.name)
    assert match is not None  # only called with names that matched
    kind = "cpu" if match["cpu"] else "memory"
    stat = path.stat()
    when = profiling.taken_at(match["when"])
    entry: dict[str, Any] = {
        "name": path.name,
        "kind": kind,
        "program": match["program"],
        "when": when.isoformat().replace("+00:00", "Z"),
        "whenMs": int(when.timestamp() * 1000),
        "bytes": stat.st_size,
        "url": f"/profiles/{path.name}",
        "raw": f"/api/profiles/{path.name}",
        "top": None,
        "problem": None,
    }
    try:
        if kind == "cpu":
            summary = _cpu_summary(str(path), stat.st_mtime_ns, stat.st_size)
            functions = summary["functions"]
            entry["top"] = functions[0] if functions else None
        else:
            summary = _memory_summary(path)
            entry["top"] = summary["lines"][0] if summary["lines"] else None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        # One unreadable file (cut short by a crash, edited by hand) is shown with why, not a failed list.
        what = "a py-spy speedscope file" if kind == "cpu" else "a memory profile (JSON)"
        entry["problem"] = f"not readable as {what}: {e}"
        return entry
    if full:
        entry.update(summary)
    return entry


@router.get("/api/profiles")
def list_profiles(request: Request) -> JSONResponse:
    where = directory(request.app.state.config.home)
    names = sorted((path.name for path in where.iterdir()), reverse=True) if where.is_dir() else []
    # Newest first: the time stamp leads the name.
    paths = [path for path in (_profile(where, name) for name in names) if path is not None]
    return JSONResponse(
        {"directory": str(where), "profiles": [_entry(path, full=False) for path in paths]},
        headers=RAW_HEADERS,
    )


@router.get("/api/profiles/{name}/summary")
def profile_summary(request: Request, name: str) -> JSONResponse:
    path = _file(request, name)
    if path is None:
        return _missing(name, directory(request.app.state.config.home))
    return JSONResponse(_entry(path, full=True), headers=RAW_HEADERS)


@router.get("/api/profiles/{name}", response_model=None)
def profile_file(request: Request, name: str) -> FileResponse | JSONResponse:
    path = _file(request, name)
    if path is None:
        return _missing(name, directory(request.app.state.config.home))
    return FileResponse(path, media_type="application/json", headers=RAW_HEADERS)


@router.get("/api/profiles/{rest:path}", include_in_schema=False)
def no_profile(request: Request, rest: str) -> JSONResponse:
    """A path with a slash in it (``../x``, ``a/b``) is no profile either: the same 404 and message."""
    return _missing(rest, directory(request.app.state.config.home))
