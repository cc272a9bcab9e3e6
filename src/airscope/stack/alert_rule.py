"""One alerting rule in the shape every alert shares: severity, summary, description, runbook.

Its own module so that each group of alerts (the platform's, the watchers', the business') can live
in a module of its own and still build its rules in exactly one way.
"""

from __future__ import annotations

from airscope.stack import settings


def runbook_url(alert: str) -> str:
    return f"{settings.RUNBOOK_BASE_URL}/{alert}.md"


def alert(
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    *,
    owner: str | None = None,
    **labels: str,
) -> dict:
    """Every alert gets severity, owner, tier, a summary, a description and its runbook from here.

    An alert about a service (``owner`` None: its expression keeps the ``service`` label) gets the
    service's owner and tier from the catalog, joined in; one about a host, a store or the stack
    names its owner (the infra team) and gets the infra tier.
    """
    if owner is None:
        expr = f"(\n{expr}\n)\n* on (service) group_left (owner, tier)\n{settings.CATALOG_INFO}"
    else:
        labels = {"owner": owner, "tier": settings.INFRA_TIER, **labels}
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **labels},
        "annotations": {"summary": summary, "description": description, "runbook_url": runbook_url(name)},
    }
