"""A real Prometheus (Debian's binary) serving a synthetic history: series written as OpenMetrics,
turned into TSDB blocks by ``promtool tsdb create-blocks-from openmetrics``, loaded at start-up.

The series are the SLO budget group's own (per-minute counts, burn rates) and ``ALERTS``, written
directly with known values, so every figure the budget and report modules give is checked against
arithmetic done by hand."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from airscope.promapi import Prometheus
from tests.support import free_port, wait_until


@dataclass
class History:
    """Samples by series: (metric name, sorted label pairs) -> [(unix seconds, value)]."""

    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = field(
        default_factory=dict
    )

    def add(self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> None:
        self.series.setdefault((name, tuple(sorted(labels.items()))), []).extend(points)

    def openmetrics(self) -> str:
        lines = []
        for (name, labels), points in sorted(self.series.items()):
            lines.append(f"# TYPE {name} gauge")
            label_text = ",".join(f'{key}="{value}"' for key, value in labels)
            for at, value in sorted(points):
                lines.append(f"{name}{{{label_text}}} {value} {at:.3f}")
        return "\n".join([*lines, "# EOF", ""])


@contextmanager
def serving(history: History, directory: Path) -> Iterator[Prometheus]:
    """A Prometheus on a free port whose TSDB holds ``history``; stopped on exit."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        pytest.skip("Debian's prometheus and promtool are not installed")
    source, tsdb = directory / "history.om", directory / "tsdb"
    source.write_text(history.openmetrics())
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(tsdb)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    (directory / "prometheus.yml").write_text("global: {evaluation_interval: 1m}\n")
    with (directory / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={tsdb}",
                # The history lies in the past: nothing of it may be deleted for age.
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prometheus = Prometheus(f"http://127.0.0.1:{port}", timeout=30)
    try:
        wait_until(prometheus.ready, 30, message="Prometheus ready")
        yield prometheus
    finally:
        prometheus.close()
        process.terminate()
        process.wait(timeout=30)
