"""Run real apps as uvicorn subprocesses for tests, and read what they expose.

- ``AppServer``: ``uvicorn --factory <module>:create_app`` on 127.0.0.1 with the given environment,
  ready once ``ready_path`` answers 200; its output goes to a log file whose tail is shown when it
  fails to start.
- ``scrape(url)``: a service's ``/metrics`` as ``{(name, frozenset(labels.items())): value}``.
- ``read_spans(trace_dir)``: every span the services wrote as OTLP JSON lines (AIRSCOPE_TRACE_DIR).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

CHECKOUT = Path(__file__).resolve().parents[1]


class AppServer:
    def __init__(
        self,
        module: str,
        port: int,
        *,
        env: dict[str, str] | None = None,
        log_dir: Path,
        ready_path: str = "/health/ready",
        timeout: float = 30.0,
    ) -> None:
        self.module = module
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "PYTHONPATH": str(CHECKOUT), **(env or {})}
        self.log_path = log_dir / f"{module.rsplit('.', 1)[-1]}-{port}.log"
        self.ready_path = ready_path
        self.timeout = timeout
        self.process: subprocess.Popen | None = None

    def start(self) -> AppServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "uvicorn", "--factory", f"{self.module}:create_app"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + self.timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(self.url + self.ready_path, timeout=2)
                if response.status_code == 200:
                    return self
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.module} not ready after {self.timeout}s ({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_records(self) -> list[dict]:
        """The JSON log lines the app wrote (other output skipped)."""
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        return records

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


Sample = tuple[str, frozenset]


def scrape(base_url: str) -> dict[Sample, float]:
    text = httpx.get(base_url.rstrip("/") + "/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Sample, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def read_spans(trace_dir: Path) -> list[dict]:
    """Flattened spans: each OTLP span dict plus ``service`` (its resource's service.name)."""
    spans = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            for resource_spans in json.loads(line).get("resourceSpans", []):
                attributes = resource_spans.get("resource", {}).get("attributes", [])
                service = next(
                    (a["value"].get("stringValue") for a in attributes if a["key"] == "service.name"), None
                )
                for scope_spans in resource_spans.get("scopeSpans", []):
                    for span in scope_spans.get("spans", []):
                        spans.append({**span, "service": service})
    return spans
