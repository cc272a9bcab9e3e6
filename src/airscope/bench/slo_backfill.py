"""A history (``slo_history``) in a throwaway Prometheus, with the SLO rules' series recorded over it.

The samples go in with ``promtool tsdb create-blocks-from openmetrics``, a file per block. The
recording rules that ``airscope.slo.budget`` reads go in with ``promtool tsdb create-blocks-from
rules``, which evaluates them through the API of a Prometheus serving those samples; Prometheus is
then restarted to load the blocks it wrote. First the SLO budget group's per-minute counts over the
whole history, and near each time the budgets are read at, the error ratios and objectives the burn
rates divide; then (they read those recorded series) the burn rates and the budget left. The rules
are generated from the catalog (``stack.rules.recording``), as the deployed ones are.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from airscope import units
from airscope.bench import BenchError
from airscope.bench._servers import free_ports
from airscope.bench.slo_history import BLOCK_SECONDS, History, Scrapes, Truth
from airscope.catalog import Catalog
from airscope.promapi import Prometheus
from airscope.slo.budget import BURN_WINDOWS
from airscope.stack import rules, settings

# The burn rates are read at an instant: recorded for a while before it, within Prometheus'
# 5-minute look-back.
BURN_SPAN = 600
READY_SECONDS = 120
STEP_SECONDS = units.parse_duration(settings.SLO_BUDGET_STEP)
# One file name for every backfill: a group's evaluations fall at an offset within its interval that
# Prometheus derives from the group's name and file, and a rule reading another's series finds them
# at its own timestamps only if both groups keep theirs, as in the one deployed file.
RULE_FILE = Path(rules.RECORDING_PATH).name
Progress = Callable[[str], None]
# (what the progress calls it, rule groups, spans as (start, end) unix seconds)
Run = tuple[str, dict, Sequence[tuple[float, float]]]


@dataclass(frozen=True)
class Backfilled:
    """A Prometheus at ``url`` holding ``history``, and what happened in it. The per-minute counts are
    stamped ``step_offset`` seconds past each minute (the group's own offset), from the first stamp
    at or after ``counts_from``, each covering the minute before its stamp."""

    url: str
    history: History
    truth: Truth
    step_offset: float
    counts_from: float

    def counted(self, start: float, end: float) -> tuple[float, float]:
        """The span whose requests the counts stamped after ``start`` up to ``end`` cover: the
        window a budget over (start, end] reads, cut where the minutes are, not where it asks, and
        within the minutes counted. A count is the difference of the samples two evaluations saw,
        so the span runs between the scrapes before its first step's start and its last stamp."""
        first = max(
            start + ((self.step_offset - start) % STEP_SECONDS or STEP_SECONDS),
            self.counts_from + (self.step_offset - self.counts_from) % STEP_SECONDS,
        )
        end = min(end, self.history.end)
        last = end - (end - self.step_offset) % STEP_SECONDS
        return self.history.scraped_by(first - STEP_SECONDS), self.history.scraped_by(last)


def counts_from(history: History) -> float:
    """When the per-minute counts begin: a minute after the first scrape. A count whose minute began
    before a series' first sample is stretched half a scrape interval beyond it (Prometheus
    extrapolates towards the minute's start): an effect of the history's start, not of counting."""
    return math.ceil(next(history.scrape_times())) + STEP_SECONDS


def _groups(catalog: Catalog, records: set[str]) -> dict:
    """The deployed recording rules, in their groups, keeping only those recording one of ``records``."""
    groups = []
    for group in rules.recording(catalog)["groups"]:
        kept = [rule for rule in group["rules"] if rule["record"] in records]
        if kept:
            groups.append({"name": group["name"], "interval": group.get("interval", "1m"), "rules": kept})
    return {"groups": groups}


def _runs(
    catalog: Catalog, history: History, read_at: Sequence[float], chunk: float
) -> tuple[list[Run], list[Run]]:
    """The backfills before the first restart and after it."""
    slis = settings.SLIS
    spans = [(at, min(at + chunk, history.end)) for at in _range(counts_from(history), history.end, chunk)]
    near = [(at - BURN_SPAN, at) for at in sorted({history.end, *read_at})]
    steps = {settings.slo_step_requests(), *(settings.slo_step_errors(sli) for sli in slis)}
    ratios = {settings.slo_errors_ratio(sli, w) for sli in slis for w in BURN_WINDOWS}
    objectives = {settings.slo_objective(sli) for sli in slis}
    burn = {settings.slo_burn_rate(sli, w) for sli in slis for w in BURN_WINDOWS}
    remaining = {settings.slo_budget_remaining(sli) for sli in slis}
    return (
        [
            (f"per-minute counts, spans of {units.format_duration(chunk)}", _groups(catalog, steps), spans),
            ("error ratios", _groups(catalog, ratios | objectives), near),
        ],
        [("burn rates", _groups(catalog, burn | remaining), near)],
    )


def _range(start: float, end: float, step: float) -> Iterator[float]:
    at = start
    while at < end:
        yield at
        at += step


class _Server:
    """Prometheus over ``workdir/data``, started and stopped as the backfill needs it."""

    def __init__(self, workdir: Path, retention_days: int) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.retention_days = retention_days
        self._process: subprocess.Popen | None = None
        (workdir / "prometheus.yml").write_text("global: {}\n")

    def start(self) -> None:
        with (self.workdir / "prometheus.log").open("ab") as log:
            self._process = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self.workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.data}",
                    # Retention counts back from the newest block; longer than the history keeps it all.
                    f"--storage.tsdb.retention.time={self.retention_days}d",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_SECONDS
        with Prometheus(self.url) as client:
            while not client.ready():
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(
                        f"Prometheus over {self.data} did not start: see {self.workdir / 'prometheus.log'}"
                    )
                time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=60)
            self._process = None


def _import_samples(history: History, catalog: Catalog, workdir: Path, progress: Progress) -> Truth:
    """Writes the history block by block and imports each while the next ones are written, two at a
    time (promtool is the slower half); a block's file is deleted once imported."""
    written = workdir / "openmetrics"
    written.mkdir()
    scrapes = Scrapes(history, catalog)
    blocks = math.ceil((history.end - history.start) / BLOCK_SECONDS)

    def load(path: Path) -> None:
        done = subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(workdir / "data")],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BenchError(f"promtool could not import {path}: {done.stderr.strip()[-2000:]}")
        path.unlink()

    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: deque[Future] = deque()
        for written_count, path in enumerate(scrapes.files(written), start=1):
            pending.append(pool.submit(load, path))
            while len(pending) > 2:
                pending.popleft().result()
            if written_count % 12 == 0 or written_count == blocks:
                progress(f"samples: {written_count} of about {blocks} two-hour blocks written")
        for future in pending:
            future.result()
    written.rmdir()
    return scrapes.truth


def _record(server: _Server, runs: Sequence[Run], progress: Progress) -> None:
    """Backfills each run's rules over its spans through ``server``, then restarts it on the blocks.
    Two spans at a time: promtool waits on Prometheus' answers, and Prometheus answers two at once."""
    staged = server.workdir / "staged"

    def backfill(span: tuple[float, float]) -> subprocess.CompletedProcess:
        start, end = span
        return subprocess.run(
            [
                *("promtool", "tsdb", "create-blocks-from", "rules", "-q", f"--url={server.url}"),
                *(f"--start={math.floor(start)}", f"--end={math.ceil(end)}", f"--output-dir={staged}"),
                RULE_FILE,
            ],
            cwd=server.workdir,
            capture_output=True,
            text=True,
        )

    for what, groups, spans in runs:
        (server.workdir / RULE_FILE).write_text(yaml.safe_dump(groups, sort_keys=False))
        with ThreadPoolExecutor(max_workers=2) as pool:
            for i, done in enumerate(pool.map(backfill, spans), start=1):
                if done.returncode != 0:
                    raise BenchError(f"promtool could not backfill the {what}: {done.stderr.strip()[-2000:]}")
                progress(f"{what}: {i} of {len(spans)} recorded")
    server.stop()
    for block in staged.iterdir():
        block.rename(server.data / block.name)
    staged.rmdir()
    server.start()


def _step_offset(url: str, at: float) -> float:
    with Prometheus(url) as client:
        stamp = client.value(f"timestamp({settings.slo_step_requests()})", at)
    if stamp is None:
        raise BenchError(f"Prometheus at {url} holds no per-minute counts: see its log beside the data")
    return stamp % STEP_SECONDS


@contextmanager
def backfilled(
    history: History,
    catalog: Catalog,
    workdir: Path,
    *,
    read_at: Sequence[float] = (),
    progress: Progress = lambda _: None,
    chunk_seconds: float = 43200,
) -> Iterator[Backfilled]:
    """A running Prometheus holding ``history`` and the recorded SLO series, until the block ends.

    The burn rates and the budget left are recorded near the history's end and near each of
    ``read_at``; the per-minute counts over the whole history, ``chunk_seconds`` at a time."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        raise BenchError("the Prometheus binaries are missing: install Debian's prometheus package")
    workdir.mkdir(parents=True, exist_ok=True)
    truth = _import_samples(history, catalog, workdir, progress)
    before, after = _runs(catalog, history, read_at, chunk_seconds)
    server = _Server(workdir, math.ceil((time.time() - history.start) / 86400) + 1)
    try:
        server.start()
        _record(server, before, progress)
        _record(server, after, progress)
        yield Backfilled(
            server.url, history, truth, _step_offset(server.url, history.end), counts_from(history)
        )
    finally:
        server.stop()
