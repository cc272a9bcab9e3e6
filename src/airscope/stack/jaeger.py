"""config.yml for Jaeger v2 (an OpenTelemetry Collector distribution): OTLP in, traces kept in memory.

Keys from jaegertracing/jaeger cmd/jaeger/internal/all-in-one.yaml, cmd/jaeger/config.yaml and
cmd/jaeger/internal/extension/jaegerquery/config.go. Tempo keeps the traces for TRACE_RETENTION;
Jaeger holds the most recent ones for its UI (trace comparison, the critical path, the deep
dependency graph) and loses them on restart.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings

PATH = "deploy/jaeger/config.yml"
HEALTH_PORT = 13133  # healthcheckv2's customary port; the compose healthcheck probes it
STORE = "memstore"
# The newest traces the memory store keeps; it drops the oldest beyond. Jaeger is the recent view
# beside Tempo, so hours are enough: at 10% sampling of 5 requests/s, 20 000 traces are 11 hours.
MAX_TRACES = 20000
# The container's memory, sized for MAX_TRACES. Our traces average 24 spans (local mode's span
# files after `airscope load`, every trace kept: median 15, p95 66) of about 0.7 KB each as OTLP
# JSON; held as Go structs, call it 1 KiB a span: 20 000 traces are about 470 MiB live (100 000, the
# earlier bound, would have been 2.3 GiB). GOMEMLIMIT makes Go's collector work to stay under it
# rather than let the heap grow to twice the live data; the container's limit leaves room above it
# for the receiver's batches and the query service. Estimated, not measured in Jaeger: watch
# container_memory_working_set_bytes{name=~".*jaeger.*"} on the Containers dashboard.
SPANS_PER_TRACE = 24
SPAN_BYTES = 1024
GO_MEMORY_LIMIT_MIB = 768
MEMORY_LIMIT_MIB = 1024


def live_mib() -> float:
    """What MAX_TRACES traces of SPANS_PER_TRACE spans hold, by the estimate above."""
    return MAX_TRACES * SPANS_PER_TRACE * SPAN_BYTES / 2**20


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
