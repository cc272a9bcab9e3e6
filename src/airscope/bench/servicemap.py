"""How fast the console's service map answers over an hour of spans (``python -m airscope.bench.servicemap``).

Writes an hour of synthetic spans along the catalog's declared calls (a caller's server span, its
client span, the callee's server span or a store's or SaaS's client attributes), one OTLP/JSON line per
export batch and one file per instance, as the exporter does; then times the service map of the last
hour as the console asks for it: the first answer (every span of the hour read once), a refresh with
nothing new, and a refresh after ten more seconds of spans were appended.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson

from airscope import catalog
from airscope.local.traces import topology

SPANS = 300_000
SECONDS = 3600
BATCH_SECONDS = 5  # the exporter's schedule delay
_PORTS = {"postgres": 5432, "redis": 6379}


def _pairs(attributes: dict[str, object]) -> list[dict]:
    return [
        {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": str(v)}}
        for k, v in attributes.items()
    ]


def write_spans(
    trace_dir: Path, spans: int = SPANS, seconds: float = SECONDS, end_ns: int | None = None
) -> int:
    """About ``spans`` spans ending over the ``seconds`` before ``end_ns`` (default now); how many."""
    cat = catalog.load()
    calls = list(topology.declared_calls(cat).items())
    end_ns = end_ns or time.time_ns()
    start_ns = end_ns - round(seconds * 1e9)
    rng = random.Random(18)
    batches: dict[tuple[str, int], list[dict]] = {}  # (service, batch number) -> spans
    written = 0
    ids = iter(range(1, 1 << 62))

    def add(service: str, span: dict) -> None:
        nonlocal written
        number = (int(span["endTimeUnixNano"]) - start_ns) // (BATCH_SECONDS * 10**9)
        batches.setdefault((service, number), []).append(span)
        written += 1

    def span(name: str, kind: int, at: int, took: int, parent: dict | None, **attributes: object) -> dict:
        return {
            "traceId": parent["traceId"] if parent else f"{next(ids):032x}",
            "spanId": f"{next(ids):016x}",
            **({"parentSpanId": parent["spanId"]} if parent else {}),
            "name": name,
            "kind": kind,
            "startTimeUnixNano": str(at),
            "endTimeUnixNano": str(at + took),
            "attributes": _pairs(attributes),
            "status": {"code": 2} if rng.random() < 0.02 else {},
        }

    while written < spans:
        (caller, callee), kind = rng.choice(calls)
        at = start_ns + rng.randrange(round(seconds * 1e9) - 10**9)
        took = round(rng.lognormvariate(16.5, 0.8))  # about 15 ms
        root = span(f"GET /{callee}", 2, at, took + 2_000_000, None, **{"http.request.method": "GET"})
        add(caller, root)
        if kind == "store":
            system = {"postgres": "postgresql"}.get(callee, callee)
            add(caller, span("query", 3, at + 500_000, took, root, **{"db.system": system}))
            continue
        port = cat.services[callee].port if kind == "service" else cat.external[callee].standin.port
        call = span("GET", 3, at + 500_000, took, root, **{"http.url": f"http://127.0.0.1:{port}/x"})
        add(caller, call)
        if kind == "service":
            add(
                callee,
                span("GET /x", 2, at + 600_000, took - 200_000, call, **{"http.request.method": "GET"}),
            )

    trace_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[bytes]] = {}
    for (service, _), batch in sorted(batches.items(), key=lambda item: item[0][1]):
        batch.sort(key=lambda s: int(s["endTimeUnixNano"]))
        resource = {"service.name": service, "service.instance.id": f"{service}@1"}
        line = {
            "resourceSpans": [
                {"resource": {"attributes": _pairs(resource)}, "scopeSpans": [{"spans": batch}]}
            ]
        }
        files.setdefault(service, []).append(orjson.dumps(line) + b"\n")
    for service, lines in files.items():
        with (trace_dir / f"{service}@1.jsonl").open("ab") as file:
            file.writelines(lines)
    return written


def measure(trace_dir: Path, seconds: float = SECONDS) -> dict[str, float]:
    """Seconds of the service map of the last ``seconds``: first, unchanged, after ten more seconds."""

    def timed() -> float:
        now = time.time_ns()
        began = time.perf_counter()
        topology.observed(trace_dir, now - round(seconds * 1e9), now)
        return time.perf_counter() - began

    first = timed()
    unchanged = min(timed() for _ in range(3))
    added = write_spans(trace_dir, round(SPANS * 10 / SECONDS), 10)
    appended = timed()
    found: dict[str, float] = {
        "first_s": first,
        "unchanged_s": unchanged,
        "appended_spans": added,
        "appended_s": appended,
    }
    forget = getattr(topology, "forget", None)
    if forget is not None:  # what the console holds between refreshes: measured apart (tracing slows it)
        forget()
        tracemalloc.start()
        timed()
        found["held_MiB"] = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
    return found


def main() -> None:
    spans = int(sys.argv[1]) if len(sys.argv) > 1 else SPANS
    directory = Path(tempfile.mkdtemp(prefix="airscope-servicemap-"))
    try:
        began = time.perf_counter()
        written = write_spans(directory, spans)
        size = sum(path.stat().st_size for path in directory.glob("*.jsonl"))
        print(f"{written} spans, {size / 2**20:.0f} MiB, written in {time.perf_counter() - began:.1f} s")
        for key, value in measure(directory).items():
            print(f"{key:16} {value:.3f}" if isinstance(value, float) else f"{key:16} {value}")
    finally:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
