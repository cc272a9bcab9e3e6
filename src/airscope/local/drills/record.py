"""Every drill run, one JSON line each in ``<home>/drills/record.jsonl``: when its fault went in, was
healed and the drill ended, whether it passed, the error budget it spent, and the profile it took
while the fault was active.

``airscope slo report`` reads the lines back as episodes of its month (``episodes``): a drill spends
budget like an incident, and a month's report says which spent what.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from airscope.slo.report import Episode


@dataclass(frozen=True)
class Entry:
    """One drill, as the record keeps it (times ISO 8601, UTC)."""

    scenario: str
    started: str | None  # the fault injected; None: it never was (skipped, or failed before)
    healed: str | None  # None: the drill failed before healing (its cleanup healed at `ended`)
    ended: str  # the drill's traffic stopped and its fault cleaned up
    passed: bool
    budget_spent: dict[str, dict[str, float]] | None  # slo.spent's figures; None: not measured
    budget_until: str | None  # the end of the interval budget_spent measured, from `started`
    # The profile taken while the fault was active (run.Result.profile: its file, top functions or
    # lines, console URL); None: the drill takes none, or it could not be taken. Lines written before
    # drills took profiles have none.
    profile: dict | None = None

    def episode(self) -> Episode | None:
        """The drill as an episode of a month's report: from the fault to the end of what its budget
        figure measured (or to the drill's end); None for a drill that injected nothing."""
        if self.started is None:
            return None
        return Episode(
            kind="drill",
            name=self.scenario,
            service=None,  # a fault spends the budgets of every service it reaches
            start=datetime.fromisoformat(self.started).timestamp(),
            end=datetime.fromisoformat(self.budget_until or self.ended).timestamp(),
        )


def path(home: Path) -> Path:
    return home / "drills" / "record.jsonl"


def append(home: Path, entry: Entry) -> None:
    kept = path(home)
    kept.parent.mkdir(parents=True, exist_ok=True)
    with kept.open("a") as file:
        file.write(json.dumps(asdict(entry)) + "\n")


def entries(home: Path) -> list[Entry]:
    """Every drill recorded under ``home``, oldest first; none when no drill has run there."""
    try:
        text = path(home).read_text()
    except FileNotFoundError:
        return []
    return [Entry(**json.loads(line)) for line in text.splitlines() if line.strip()]


def episodes(home: Path) -> list[Episode]:
    """The recorded drills that injected a fault, as ``airscope.slo.report`` episodes."""
    return [episode for entry in entries(home) if (episode := entry.episode()) is not None]
