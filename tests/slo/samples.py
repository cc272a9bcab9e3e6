"""Budgets built by hand, for the modules that only read them (the gate, the terminal view)."""

from __future__ import annotations

from airscope.slo.budget import Budget

END = 1_796_000_000.0  # 2026-11-29, a Sunday
WINDOW = 30 * 86400.0


def budget(
    service: str = "api-gateway", sli: str = "availability", remaining: float | None = 1.0, **fields
) -> Budget:
    """A 30-day budget with ``remaining`` left of 100 000 requests at a 99.5% objective; ``fields``
    override any other figure."""
    objective = fields.pop("objective", 0.995)
    requests = 0.0 if remaining is None else 100_000.0
    allowed = (1 - objective) * requests
    bad = 0.0 if remaining is None else (1 - remaining) * allowed
    values = {
        "service": service,
        "sli": sli,
        "objective": objective,
        "reason": "a reason",
        "window": "30d",
        "start": END - WINDOW,
        "end": END,
        "requests": requests,
        "bad_requests": bad,
        "sli_value": None if remaining is None else 1 - bad / requests,
        "remaining": remaining,
        "remaining_requests": None if remaining is None else allowed - bad,
        "remaining_minutes": None if remaining is None else remaining * (1 - objective) * WINDOW / 60,
        "burn_rates": {"1h": None, "6h": None, "3d": None}
        if remaining is None
        else {"1h": 1.0, "6h": 1.0, "3d": 1.0},
        "exhaustion_seconds": None,
        "covered_seconds": 0.0 if remaining is None else WINDOW,
    }
    values.update(fields)
    return Budget(**values)
