"""deploy/slo/: the catalog's SLOs for the SLO tools people already run: OpenSLO v1, Sloth, Pyrra.

Each SLO counts what our budget rules count (rules.py: users' requests, probes left out; bad means
answered 5xx or 499, or slower than the SLO's threshold) over the same rolling SLO period, with the
catalog's objective and its reason as the description. The queries read the raw counters, not our
recorded series: Sloth and Pyrra record their own windows from them, and an OpenSLO tool queries its
own data source, so none of them needs our rules loaded.
"""

from __future__ import annotations

from airscope.catalog import Catalog, Service
from airscope.stack import _yaml, rules, settings
from airscope.stack.alert_rule import runbook_url

OPENSLO_PATH = "deploy/slo/openslo.yaml"
SLOTH_PATH = "deploy/slo/sloth.yaml"
# One object a file: Pyrra's filesystem mode reads one ServiceLevelObjective per file.
PYRRA_DIR = "deploy/slo/pyrra"

# The alerts Sloth and Pyrra generate take our burn-rate alerts' names, so our runbooks fit them.
ALERT_NAMES = {"availability": "ErrorBudgetBurn", "latency": "LatencyBudgetBurn"}
WINDOW = "{{.window}}"  # Sloth's template variable: each of its windows in turn


def requests(service: Service) -> str:
    """Every request of the service an SLO counts."""
    return f'{rules.DURATION}_count{{{rules.SERVED}, service="{service.name}"}}'


def failed(service: Service) -> str:
    """The availability SLI's bad requests."""
    return f'{rules.DURATION}_count{{{rules.SERVED}, service="{service.name}", status=~"{rules.FAILED}"}}'


def fast(service: Service) -> str:
    """The latency SLI's good requests: the histogram bucket at the SLO's threshold."""
    bucket = rules._le(service.slo.latency_seconds)
    return f'{rules.DURATION}_bucket{{{rules.SERVED}, service="{service.name}", {bucket}}}'


def percent(objective: float) -> float:
    """Sloth and Pyrra write objectives in percent; 12 digits drop the float's noise (99.99900000000001)."""
    return float(f"{objective * 100:.12g}")


def name(service: Service, sli: str) -> str:
    return f"{service.name}-{sli}"


def _objective_text(service: Service, sli: str) -> str:
    if sli == "availability":
        return "requests answered without a server error"
    return f"requests answered within {service.slo.latency_seconds:g} s"


def _prometheus(query: str) -> dict:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def openslo(catalog: Catalog) -> list[dict]:
    """A Service per catalog service, then an SLO per service and SLI."""
    documents: list[dict] = [
        {
            "apiVersion": "openslo/v1",
            "kind": "Service",
            "metadata": {"name": service.name},
            "spec": {"description": f"owned by {service.owner}, tier {service.tier}"},
        }
        for service in catalog.services.values()
    ]
    for service in catalog.services.values():
        for sli in settings.SLIS:
            # Each numerator is the one counter our budget rules count: the failed requests for
            # availability, the fast ones (one bucket) for latency. The other would be a difference
            # of two counters, which is no counter a tool can take increases of.
            numerator = (
                {"bad": _prometheus(f"sum({failed(service)})")}
                if sli == "availability"
                else {"good": _prometheus(f"sum({fast(service)})")}
            )
            documents.append(
                {
                    "apiVersion": "openslo/v1",
                    "kind": "SLO",
                    "metadata": {
                        "name": name(service, sli),
                        "displayName": f"{service.name} {sli}",
                        "labels": {"owner": service.owner, "tier": str(service.tier), "sli": sli},
                    },
                    "spec": {
                        "description": service.slo.reason(sli),
                        "service": service.name,
                        "indicator": {
                            "metadata": {"name": name(service, sli)},
                            "spec": {
                                "ratioMetric": {
                                    "counter": True,
                                    **numerator,
                                    "total": _prometheus(f"sum({requests(service)})"),
                                }
                            },
                        },
                        "timeWindow": [{"duration": settings.SLO_PERIOD, "isRolling": True}],
                        "budgetingMethod": "Occurrences",
                        "objectives": [
                            {
                                "displayName": _objective_text(service, sli),
                                "target": service.slo.objective(sli),
                            }
                        ],
                    },
                }
            )
    return documents


def _sloth_error_query(service: Service, sli: str) -> str:
    total = f"sum(rate({requests(service)}[{WINDOW}]))"
    if sli == "availability":
        # As our rule: a service that never failed has no 5xx series at all, and its ratio is 0
        # rather than absent; one without requests has none (0/0 is no share of errors).
        return f"sum(rate({failed(service)}[{WINDOW}]))\nor\n{total} * 0"
    # As our rule: the two rates are extrapolated apart, so their difference can dip below 0.
    return f"clamp_min(\n  {total}\n  -\n  sum(rate({fast(service)}[{WINDOW}])),\n  0\n)"


def sloth(catalog: Catalog) -> list[dict]:
    """A `prometheus/v1` spec per service. Sloth's spec has no period: it takes `--default-slo-period`."""
    return [
        {
            "version": "prometheus/v1",
            "service": service.name,
            # On every rule and alert Sloth generates: our Alertmanager routes by owner.
            "labels": {"owner": service.owner, "tier": str(service.tier)},
            "slos": [
                {
                    "name": sli,
                    "objective": percent(service.slo.objective(sli)),
                    "description": service.slo.reason(sli),
                    "sli": {
                        "events": {
                            "error_query": _sloth_error_query(service, sli),
                            "total_query": f"sum(rate({requests(service)}[{WINDOW}]))",
                        }
                    },
                    "alerting": {
                        "name": ALERT_NAMES[sli],
                        "annotations": {"runbook_url": runbook_url(ALERT_NAMES[sli])},
                        "page_alert": {"labels": {"severity": "critical"}},
                        "ticket_alert": {"labels": {"severity": "warning"}},
                    },
                }
                for sli in settings.SLIS
            ],
        }
        for service in catalog.services.values()
    ]


def pyrra(service: Service, sli: str) -> dict:
    indicator = (
        {"ratio": {"errors": {"metric": failed(service)}, "total": {"metric": requests(service)}}}
        if sli == "availability"
        else {"latency": {"success": {"metric": fast(service)}, "total": {"metric": requests(service)}}}
    )
    return {
        "apiVersion": "pyrra.dev/v1alpha1",
        "kind": "ServiceLevelObjective",
        "metadata": {
            "name": name(service, sli),
            # Labels prefixed pyrra.dev/ go onto Pyrra's rules and alerts: our Alertmanager routes by owner.
            "labels": {"pyrra.dev/owner": service.owner, "pyrra.dev/tier": str(service.tier)},
        },
        "spec": {
            "description": service.slo.reason(sli),
            "target": f"{percent(service.slo.objective(sli)):g}",
            "window": settings.SLO_PERIOD,
            "indicator": indicator,
            "alerting": {"name": ALERT_NAMES[sli]},
        },
    }


def _documents(documents: list[dict], header: str) -> str:
    """One YAML stream: the header, then the documents apart by `---`."""
    first, *rest = documents
    return "---\n".join([_yaml.dump(first, header), *(_yaml.dump(document) for document in rest)])


def generate(catalog: Catalog) -> dict[str, str]:
    header = _yaml.header("slo_specs.py")
    files = {
        OPENSLO_PATH: _documents(openslo(catalog), f"{header}\nOpenSLO v1: `oslo validate {OPENSLO_PATH}`."),
        SLOTH_PATH: _documents(
            sloth(catalog),
            f"{header}\nSloth: `sloth generate -i {SLOTH_PATH} --default-slo-period {settings.SLO_PERIOD}`.",
        ),
    }
    for service in catalog.services.values():
        for sli in settings.SLIS:
            files[f"{PYRRA_DIR}/{name(service, sli)}.yaml"] = _yaml.dump(
                pyrra(service, sli),
                f"{header}\nPyrra: `pyrra filesystem --config-files='{PYRRA_DIR}/*.yaml'`.",
            )
    return files
