"""tempo.yml: one monolithic Tempo 2.x on local disk that also turns spans into metrics.

2.x keys only, for the pinned grafana/tempo:2.10.x image (3.0 removed the ingester and compactor
blocks). Keys from grafana/tempo docs/sources/tempo/configuration/_index.md and
example/docker-compose/{local,migrate-to-3/tempo-v2}.yaml.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings
from airscope.telemetry import SAMPLE_RATIO

PATH = "deploy/tempo/tempo.yml"
DATA_DIR = "/var/tempo"  # the compose file mounts Tempo's volume here
PROCESSORS = ("service-graphs", "span-metrics")
PROMETHEUS_WRITE_URL = f"http://prometheus:{settings.PORTS['prometheus']}/api/v1/write"


def config() -> dict:
    return {
        # Grafana streams search results over HTTP; without this it falls back to slower polling.
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": settings.PORTS["tempo"], "log_level": "info"},
        "distributor": {
            "receivers": {
                "otlp": {
                    "protocols": {
                        # Tempo 2.x binds its receivers to localhost unless told otherwise.
                        "grpc": {"endpoint": f"0.0.0.0:{settings.PORTS['otlp-grpc']}"},
                        "http": {"endpoint": f"0.0.0.0:{settings.PORTS['otlp-http']}"},
                    }
                }
            }
        },
        "compactor": {"compaction": {"block_retention": settings.TRACE_RETENTION}},
        "metrics_generator": {
            # Production keeps 1 trace in 10: each kept span carries the ratio its trace was kept
            # with (the kit's SAMPLE_RATIO attribute) and counts 1/ratio times, so the service map's
            # and the span metrics' rates are the whole traffic's. Not a per-tenant override in 2.x:
            # the processors read it from here only (modules/generator/config.go, v2.10.8).
            "processor": {
                "service_graphs": {"span_multiplier_key": SAMPLE_RATIO},
                "span_metrics": {"span_multiplier_key": SAMPLE_RATIO},
            },
            # Tells Tempo's series apart from scraped ones in Prometheus.
            "registry": {"external_labels": {"source": "tempo", "cluster": settings.CLUSTER}},
            "storage": {
                "path": f"{DATA_DIR}/generator/wal",
                # Prometheus runs with --web.enable-remote-write-receiver; exemplars link the
                # span-metrics back to traces.
                "remote_write": [{"url": PROMETHEUS_WRITE_URL, "send_exemplars": True}],
            },
        },
        "storage": {
            "trace": {
                # "local" is for monolithic mode only, which this is.
                "backend": "local",
                "wal": {"path": f"{DATA_DIR}/wal"},
                "local": {"path": f"{DATA_DIR}/blocks"},
            }
        },
        # The processors run only when enabled here (the 2.x per-tenant defaults form).
        "overrides": {"defaults": {"metrics_generator": {"processors": list(PROCESSORS)}}},
        "usage_report": {"reporting_enabled": False},
    }


def generate(catalog: Catalog) -> dict[str, str]:
    return {PATH: _yaml.dump(config(), _yaml.header("tempo.py"))}
