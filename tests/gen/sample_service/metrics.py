"""sample-service's domain metrics: module-level objects, so docs/metrics.md lists them."""

from __future__ import annotations

from prometheus_client import Counter

GREETINGS = Counter("sample_greetings_total", "Greetings answered, by outcome (ok, refused).", ["outcome"])
