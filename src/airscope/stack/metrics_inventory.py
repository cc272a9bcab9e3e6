"""The services' domain metrics, read from the code that defines them.

Each service keeps its domain metrics as module-level objects in ``<service module>.metrics``.
``airscope check`` holds the PromQL of rules and dashboards to them, and ``airscope gen`` documents
them in docs/metrics.md: both read this one inventory, so neither can drift from what is exported.
"""

from __future__ import annotations

import importlib

from prometheus_client.metrics import MetricWrapperBase


def service_metric_objects(module: str) -> list[MetricWrapperBase]:
    """The metric objects defined in ``<module>.metrics``, in definition order."""
    try:
        metrics = importlib.import_module(f"{module}.metrics")
    except ModuleNotFoundError:
        return []
    return [value for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)]
