"""One alerting rule in the shape every alert shares: severity, summary, description, runbook.

Its own module so that each group of alerts (the platform's, the watchers', the business') can live
in a module of its own and still build its rules in exactly one way.
"""

from __future__ import annotations

from airscope.stack import settings


def runbook_url(alert: str) -> str:
    return f"{settings.RUNBOOK_BASE_URL}/{alert}.md"


def alert(name: str, expr: str, for_: str, severity: str, summary: str, description: str, **labels) -> dict:
    """Every alert gets severity, a summary, a description and its runbook from this one place."""
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **labels},
        "annotations": {"summary": summary, "description": description, "runbook_url": runbook_url(name)},
    }
