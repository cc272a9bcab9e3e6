"""The drills' record: one line per drill, read back in order, and the drills that injected a fault
as episodes of a month's SLO report."""

from __future__ import annotations

from datetime import UTC, datetime

from airscope.local.drills import record
from airscope.local.drills.run import Result
from airscope.slo.report import Episode

SPENT = {"airtable-gateway": {"availability": 0.25}}


def test_each_drill_appends_a_line_read_back_in_order(tmp_path):
    assert record.entries(tmp_path) == []
    burst = Result("error-burst", "", "", 90, 41.0, 30.0)
    burst.started, burst.healed = "2026-12-07T10:00:00+00:00", "2026-12-07T10:01:30+00:00"
    burst.ended, burst.budget_spent = "2026-12-07T10:02:10+00:00", SPENT
    burst.budget_until = "2026-12-07T10:01:35+00:00"
    disk = Result("disk", "", "", 90, skipped="needs root", ended="2026-12-07T10:03:00+00:00")
    record.append(tmp_path, burst.entry())
    record.append(tmp_path, disk.entry())

    first, second = record.entries(tmp_path)
    assert first == record.Entry(
        "error-burst",
        "2026-12-07T10:00:00+00:00",
        "2026-12-07T10:01:30+00:00",
        "2026-12-07T10:02:10+00:00",
        True,
        SPENT,
        "2026-12-07T10:01:35+00:00",
    )
    assert (second.scenario, second.started, second.passed, second.budget_spent) == ("disk", None, True, None)
    assert record.path(tmp_path).read_text().count("\n") == 2


def test_a_drill_that_injected_a_fault_is_an_episode_up_to_what_its_budget_measured(tmp_path):
    def at(minute: int, second: int = 0) -> str:
        return datetime(2026, 12, 7, 10, minute, second, tzinfo=UTC).isoformat()

    for entry in (
        record.Entry("error-burst", at(0), at(1, 30), at(2, 10), True, SPENT, at(1, 35)),
        record.Entry("disk", None, None, at(3), True, None, None),  # skipped: nothing injected
        record.Entry("latency", at(4), None, at(6), False, None, None),  # failed before healing
    ):
        record.append(tmp_path, entry)

    def moment(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    assert record.episodes(tmp_path) == [
        Episode("drill", "error-burst", None, moment(at(0)), moment(at(1, 35))),
        Episode("drill", "latency", None, moment(at(4)), moment(at(6))),
    ]
