"""Run real apps as uvicorn subprocesses for tests, and read what they expose.

- ``AppServer``: ``uvicorn --factory <module>:create_app`` (or ``<module>:<factory>``) on 127.0.0.1
  with the given environment, ready once ``ready_path`` answers 200; its output goes to a log file
  whose tail is shown when it fails to start. ``Apps`` starts several and stops them together.
- ``start_airtable_standin`` / ``start_llm_standin``: the stand-ins as the services meet them;
  ``set_faults`` / ``clear_faults`` on them.
- ``scrape(url)``: a service's ``/metrics`` as ``{(name, frozenset(labels.items())): value}``;
  ``value`` sums samples, ``movement(before, after)`` says how far they moved.

The spans the services write are read by ``airscope.local.traces.read_spans``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import free_port, wait_until

CHECKOUT = Path(__file__).resolve().parents[1]


class AppServer:
    """One app under uvicorn in a subprocess. ``env`` is laid over this process' environment (or
    over ``base_env``); a ``None`` value removes that variable."""

    def __init__(
        self,
        module: str,
        port: int | None = None,
        *,
        env: Mapping[str, str | None] | None = None,
        log_dir: Path,
        ready_path: str = "/health/ready",
        timeout: float = 30.0,
        args: Sequence[str] = (),
        base_env: Mapping[str, str] | None = None,
        output: IO | int | None = None,
    ) -> None:
        self.module = module
        self.factory = module if ":" in module else f"{module}:create_app"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        merged = {
            **(os.environ if base_env is None else base_env),
            "PYTHONPATH": str(CHECKOUT),
            **(env or {}),
        }
        self.env = {name: value for name, value in merged.items() if value is not None}
        name = module.split(":")[0].rsplit(".", 1)[-1]
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.ready_path = ready_path
        self.timeout = timeout
        self.args = list(args)
        self.output = output
        self.process: subprocess.Popen | None = None

    def start(self) -> AppServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as files:
            output = self.output
            if output is None:
                output = files.enter_context(self.log_path.open("ab"))
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "uvicorn", "--factory", self.factory),
                    *("--host", "127.0.0.1", "--port", str(self.port), *self.args),
                ],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(self._ready, timeout=self.timeout, message=f"{self.module} ready on {self.url}")
        except AssertionError as failure:
            self.stop()
            raise RuntimeError(f"{failure}:\n{self.log_tail()}") from None
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.module} exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            response = httpx.get(self.url + self.ready_path, timeout=2)
        except httpx.TransportError as exc:
            raise AssertionError(repr(exc)) from None
        assert response.status_code == 200, f"{response.status_code} {response.text[:300]}"
        return True

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

    def failing_checks(self, timeout: float = 10.0) -> set[str]:
        """Waits for ``/health`` to answer 503 (a dependency that just went away shows once the
        cached results expire) and returns the names of the failing checks (``postgres`` for
        ``postgres:connections``)."""
        health = wait_until(
            lambda: (answer := httpx.get(self.url + "/health", timeout=10)).status_code == 503 and answer,
            timeout,
            message=f"{self.module}'s /health failing",
        ).json()
        return {
            name.split(":")[0] for name, results in health["checks"].items() if results[0]["status"] == "fail"
        }

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


class Apps:
    """Apps started together (each with ``env`` under its own) and stopped together, last first."""

    def __init__(self, directory: Path, env: Mapping[str, str | None] | None = None) -> None:
        self.directory = directory
        self.env = dict(env or {})
        self.started: list[AppServer] = []

    def start(
        self,
        module: str,
        env: Mapping[str, str | None] | None = None,
        *,
        ready_path: str = "/health/ready",
        port: int | None = None,
        **options: object,
    ) -> AppServer:
        server = AppServer(
            module,
            port,
            env={**self.env, **(env or {})},
            log_dir=self.directory / "logs",
            ready_path=ready_path,
            **options,
        )
        self.started.append(server)
        return server.start()

    def stop(self) -> None:
        for server in reversed(self.started):
            server.stop()

    def __enter__(self) -> Apps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


STANDIN_READY = "/_admin/health"


def start_airtable_standin(apps: Apps, **env: str) -> AppServer:
    """The Airtable stand-in with its own database in ``apps.directory``."""
    database = {"STANDIN_AIRTABLE_DB": str(apps.directory / f"airtable-{len(apps.started)}.sqlite")}
    return apps.start("airscope.standins.airtable", {**database, **env}, ready_path=STANDIN_READY)


def start_llm_standin(apps: Apps, **env: str) -> AppServer:
    return apps.start("airscope.standins.llm", env, ready_path=STANDIN_READY)


def set_faults(standin: AppServer, **faults: object) -> None:
    """Sets faults on the stand-in (``error_rate=1.0``, ``down=True``, ``extra_latency_ms=800``...)
    until ``clear_faults``."""
    httpx.put(standin.url + "/_admin/faults", json=faults, timeout=5).raise_for_status()


def clear_faults(standin: AppServer) -> None:
    """Ends every fault the test set on the stand-in."""
    httpx.delete(standin.url + "/_admin/faults", timeout=5).raise_for_status()


Sample = tuple[str, frozenset]


def scrape(base_url: str) -> dict[Sample, float]:
    text = httpx.get(base_url.rstrip("/") + "/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[Sample, float], name: str, /, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when there are none); a
    label may be called ``name`` too."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def movement(before: dict[Sample, float], after: dict[Sample, float]) -> Callable[..., float]:
    """``moved = movement(before, after)``: ``moved(name, **labels)`` is how far ``value`` moved."""

    def moved(name: str, /, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    return moved
