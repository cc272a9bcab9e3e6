"""The stack as code: ``airscope gen`` writes deploy/ from the catalog and ``settings``.

Each generator module exposes ``generate(catalog) -> {path relative to the checkout: content}``;
config flows one way, catalog -> generators -> files, and nothing under deploy/ is edited by hand
(except the Dockerfile, which does not depend on the catalog).
"""

from __future__ import annotations

import importlib

from airscope import catalog as service_catalog

GENERATORS = (
    "prometheus",
    "rules",
    "alertmanager",
    "grafana",
    "loki",
    "alloy",
    "tempo",
    "jaeger",
    "mimir",
    "pyroscope",
    "blackbox",
    "compose",
    "slo_specs",
)


def generate() -> dict[str, str]:
    current = service_catalog.load()
    files: dict[str, str] = {}
    for name in GENERATORS:
        files.update(importlib.import_module(f"airscope.stack.{name}").generate(current))
    return files
