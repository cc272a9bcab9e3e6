"""Profile files as `airscope profile` writes them, for the console's tests: a CPU profile in py-spy's
speedscope shape (the frames and fields py-spy 0.4 writes) and a memory profile as the kit's
``POST /_profile/memory`` answers, both written here with known numbers; and two recorded ones in
``data/`` (``RECORDED``).

The recorded ones are the frontend service's, run alone under uvicorn with the kit's switches on
(AIRSCOPE_DRILLS=1, AIRSCOPE_PROFILE_SWITCH=1) and two clients loading its page in a loop:
``airscope.local.profiling.record_cpu`` for 5 s while ``PUT /_drill/cpu`` burned 20 ms in every
request (py-spy 0.4.3, 524 samples, burn_cpu 92 % own), then ``record_memory`` for 4 s while
``PUT /_drill/memory`` held 64 MiB. docs/images/console-profiles.png shows the first."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data"
RECORDED_CPU = DATA / "20261207T194515Z-frontend-cpu.speedscope.json"
RECORDED_MEMORY = DATA / "20261207T194521Z-frontend-memory.json"
RECORDED = (RECORDED_CPU, RECORDED_MEMORY)

BURN = {"name": "burn_cpu", "file": "/srv/airscope/telemetry/_drills.py", "line": 41, "col": None}
HANDLE = {
    "name": "dispatch",
    "file": "/srv/site-packages/starlette/middleware/base.py",
    "line": 102,
    "col": None,
}
LOOP = {"name": "run_forever", "file": "/usr/lib/python3.12/asyncio/base_events.py", "line": 630, "col": None}
SELECT = {"name": "select", "file": "/usr/lib/python3.12/selectors.py", "line": 468, "col": None}


def write_cpu(directory: Path, name: str, *, burning: int = 70, idle: int = 30) -> Path:
    """A py-spy speedscope file: ``burning`` samples in burn_cpu under a request, ``idle`` in select."""
    frames = [LOOP, HANDLE, BURN, SELECT]
    samples = [[0, 1, 2]] * burning + [[0, 3]] * idle
    document = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "profiles": [
            {
                "type": "sampled",
                "name": 'Thread 4242 "MainThread"',
                "unit": "seconds",
                "startValue": 0.0,
                "endValue": (burning + idle) / 100,
                "samples": samples,
                "weights": [0.01] * len(samples),
            }
        ],
        "shared": {"frames": frames},
        "activeProfileIndex": None,
        "exporter": "py-spy@0.4.3",
        "name": "py-spy profile",
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(document))
    return path


MEMORY_TOP = [
    {"file": "/srv/airscope/telemetry/_drills.py", "line": 88, "grown_bytes": 52_428_800, "count": 50},
    {"file": "/usr/lib/python3.12/json/decoder.py", "line": 353, "grown_bytes": 81_920, "count": 640},
    {"file": "/srv/site-packages/httpx/_models.py", "line": 510, "grown_bytes": 4_096, "count": 12},
]


def write_memory(directory: Path, name: str, top: list[dict] | None = None) -> Path:
    """The kit's memory profile answer, what grew during the window (largest first), with the fields
    airscope.local.profiling.record_memory adds."""
    document = {
        "service": "mcp-server",
        "program": "mcp-server",
        "taken": "2026-12-07T18:12:00+00:00",
        "seconds": 10,
        "traced_bytes": 53_000_000,
        "peak_bytes": 53_500_000,
        "top": MEMORY_TOP if top is None else top,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(document))
    return path
