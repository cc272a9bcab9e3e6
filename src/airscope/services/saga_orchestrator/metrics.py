"""saga-orchestrator's domain metrics: how sagas end, how long their steps take, what had to be undone."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# A step is one HTTP call to another service (tens of milliseconds), retried with back-off up to
# SAGA_STEP_MAX_ATTEMPTS times of SAGA_STEP_TIMEOUT_SECONDS each; a saga is a few steps, and a
# resumed one may span a restart.
STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SAGA_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

OUTCOMES = ("completed", "compensated", "failed")
COMPENSATION_OUTCOMES = ("ok", "failed")
CLEANUP_OUTCOMES = ("compensated", "failed", "closed")

SAGA_RUNS = Counter(
    "saga_runs_total",
    "Sagas that ended, by saga and outcome (completed; compensated: a step failed and every done step "
    "was undone; failed: a compensation failed too, so a person must clean up; alert on it).",
    ["saga", "outcome"],
)
SAGA_STEP_DURATION = Histogram(
    "saga_step_duration_seconds",
    "Duration of each forward step of a saga, from its first attempt to its outcome (retries and "
    "back-off included).",
    ["saga", "step"],
    buckets=STEP_BUCKETS,
)
SAGA_COMPENSATIONS = Counter(
    "saga_compensations_total",
    "Compensations run (each undoes one done step), by step and outcome (ok; failed: given up after "
    "SAGA_COMPENSATION_MAX_ATTEMPTS attempts or a permanent error, logged at error).",
    ["step", "outcome"],
)
SAGA_IN_PROGRESS = Gauge(
    "saga_in_progress",
    "Sagas this process is running or compensating right now, by saga.",
    ["saga"],
)
SAGA_DURATION = Histogram(
    "saga_duration_seconds",
    "Duration of each saga that ended, from its creation to its end (a restart in between included).",
    ["saga"],
    buckets=SAGA_BUCKETS,
)

# An operator's work is counted apart from saga_runs_total: compensating 3 failed sagas again must
# not count as 3 more undone sagas in SagasFailing's ratio.
SAGA_CLEANUPS = Counter(
    "saga_cleanups_total",
    "Failed sagas an operator handled (`airscope sagas compensate` or `close`), by saga and outcome "
    "(compensated: its failed compensations were run again and all succeeded; failed: one failed "
    "again and the saga is failed again; closed: closed with a note after a clean-up by hand).",
    ["saga", "outcome"],
)
SAGAS_FAILED_OPEN = Gauge(
    "saga_failed_open",
    "Sagas that ended failed and that no operator has compensated or closed yet, by saga: what is "
    "left to clean up. Read from PostgreSQL every SAGA_LEASE_SECONDS/3 (every instance reports the "
    "same value: read it with max()).",
    ["saga"],
)


def set_failed_open(names: tuple[str, ...] | list[str], counts: dict[str, int]) -> None:
    """The failed sagas waiting for an operator, by saga name; names without any read 0."""
    for name in {*names, *counts}:
        SAGAS_FAILED_OPEN.labels(name).set(counts.get(name, 0))


def initialise(sagas: dict[str, tuple[str, ...]]) -> None:
    """Creates every series at 0 (saga name -> its step names), so rates and alerts have a baseline."""
    for saga, steps in sagas.items():
        for outcome in OUTCOMES:
            SAGA_RUNS.labels(saga, outcome)
        for step in steps:
            SAGA_STEP_DURATION.labels(saga, step)
            for outcome in COMPENSATION_OUTCOMES:
                SAGA_COMPENSATIONS.labels(step, outcome)
        SAGA_IN_PROGRESS.labels(saga)
        SAGA_DURATION.labels(saga)
        SAGAS_FAILED_OPEN.labels(saga)
        for outcome in CLEANUP_OUTCOMES:
            SAGA_CLEANUPS.labels(saga, outcome)
