"""config.yml for Jaeger v2 (an OpenTelemetry Collector distribution): OTLP in, traces kept in memory.

Keys from jaegertracing/jaeger cmd/jaeger/internal/all-in-one.yaml, cmd/jaeger/config.yaml and
cmd/jaeger/internal/extension/jaegerquery/config.go. Tempo keeps the traces for TRACE_RETENTION;
Jaeger holds the most recent ones for its UI and loses them on restart.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings

PATH = "deploy/jaeger/config.yml"
HEALTH_PORT = 13133  # healthcheckv2's customary port; the compose healthcheck probes it
STORE = "memstore"
# Bounds memory: about 100k traces fit in a few hundred MB at our span counts.
MAX_TRACES = 100000


def _on_all_interfaces(port: int) -> dict:
    # Collector components default to localhost; inside a container that is unreachable.
    return {"endpoint": f"0.0.0.0:{port}"}


def config() -> dict:
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
        },
        "extensions": {
            "jaeger_storage": {"backends": {STORE: {"memory": {"max_traces": MAX_TRACES}}}},
            "jaeger_query": {
                "storage": {"traces": STORE},
                "http": _on_all_interfaces(settings.PORTS["jaeger"]),
            },
            "healthcheckv2": {"use_v2": True, "http": _on_all_interfaces(HEALTH_PORT)},
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": _on_all_interfaces(settings.PORTS["otlp-grpc"]),
                    "http": _on_all_interfaces(settings.PORTS["otlp-http"]),
                }
            }
        },
        "processors": {"batch": {}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
    }


def generate(catalog: Catalog) -> dict[str, str]:
    return {PATH: _yaml.dump(config(), _yaml.header("jaeger.py"))}
