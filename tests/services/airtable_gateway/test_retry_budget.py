"""The retry budget: failed reads retry at once while failures are rare, at most a fifth more
requests while Airtable fails everything."""

from __future__ import annotations

from airscope.services.airtable_gateway.client import RetryBudget


def test_an_isolated_failure_retries_and_an_outage_adds_at_most_a_fifth_more_requests() -> None:
    budget = RetryBudget(ratio=0.2, cap=10)
    assert all(budget.spend() for _ in range(10))  # the first failures retry at once
    assert not budget.spend()

    retries = 0
    for _ in range(100):  # an outage: every request fails and would retry twice
        budget.earn()
        retries += sum(budget.spend() for _ in range(2))
    assert retries == 20


def test_what_is_kept_is_capped() -> None:
    budget = RetryBudget(ratio=0.2, cap=10)
    for _ in range(1000):
        budget.earn()
    assert sum(budget.spend() for _ in range(20)) == 10
