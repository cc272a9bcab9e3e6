"""Memory profiles through the kit's profiling switch: the service traces its own allocations with
tracemalloc for a bounded time (``POST /_profile/memory``, on when AIRSCOPE_PROFILE_SWITCH=1) and
answers the lines whose allocations grew most. Nothing attaches to the process; the switch costs
nothing while off."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from airscope.local.profiling._files import MEMORY_FILE, ProfileError, console_url, new_path

PATH = "/_profile/memory"
MAX_SECONDS = 300  # the switch's own bound
MAX_TOP = 100
ANSWER_SECONDS = 10.0  # past the window: the snapshot and its statistics, on a busy service


@dataclass(frozen=True)
class MemoryLine:
    file: str
    line: int
    grown_bytes: int
    count: int  # allocations from this line still held at the end of the window


@dataclass(frozen=True)
class MemoryProfile:
    service: str
    program: str
    seconds: float
    traced_bytes: int
    peak_bytes: int
    path: Path  # the JSON answer written
    top: tuple[MemoryLine, ...]

    def entry(self) -> dict[str, Any]:
        """JSON-able: what `airscope profile --memory --json` prints and the drills record."""
        return {
            "kind": "memory",
            "service": self.service,
            "program": self.program,
            "seconds": self.seconds,
            "traced_bytes": self.traced_bytes,
            "peak_bytes": self.peak_bytes,
            "path": str(self.path),
            "url": console_url(self.path),
            "top": [
                {"file": m.file, "line": m.line, "grown_bytes": m.grown_bytes, "count": m.count}
                for m in self.top
            ],
        }


def record_memory(
    url: str, *, service: str, program: str, seconds: float, out_dir: Path, top: int = 20
) -> MemoryProfile:
    """Asks the service at ``url`` to trace its allocations for ``seconds`` and writes its answer
    (with the service, the program and when it was taken) to ``<out_dir>/<stamp>-<program>-memory.json``."""
    if not 0 < seconds <= MAX_SECONDS:
        raise ProfileError(f"a memory profile lasts more than 0 and at most {MAX_SECONDS} s, not {seconds:g}")
    if not 1 <= top <= MAX_TOP:
        raise ProfileError(f"a memory profile keeps 1 to {MAX_TOP} lines, not {top}")
    taken = datetime.now(UTC)
    try:
        answer = httpx.post(
            f"{url}{PATH}", json={"seconds": seconds, "top": top}, timeout=seconds + ANSWER_SECONDS
        )
    except httpx.HTTPError as exc:
        raise ProfileError(
            f"cannot reach {program} at {url} ({exc}): is it running? `airscope status`"
        ) from None
    if answer.status_code == 404:
        raise ProfileError(
            f"{program} has no profiling switch: it runs without AIRSCOPE_PROFILE_SWITCH=1, which local "
            "mode sets (`airscope up` restarts nothing that runs: `airscope stop` and `airscope start` it)"
        )
    if answer.status_code == 409:
        raise ProfileError(f"{program} is already tracing its memory: wait for that profile to end")
    if answer.status_code != 200:
        raise ProfileError(f"{program} answered {answer.status_code} to {PATH}: {answer.text[:300]}")
    body = answer.json()
    path = new_path(out_dir, program, MEMORY_FILE, taken)
    document = {"service": service, "program": program, "taken": taken.isoformat(), **body}
    path.write_text(json.dumps(document, indent=1) + "\n")
    return MemoryProfile(
        service=service,
        program=program,
        seconds=body["seconds"],
        traced_bytes=body["traced_bytes"],
        peak_bytes=body["peak_bytes"],
        path=path,
        top=tuple(MemoryLine(t["file"], t["line"], t["grown_bytes"], t["count"]) for t in body["top"]),
    )
