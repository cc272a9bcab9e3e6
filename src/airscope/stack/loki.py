"""loki.yml: one monolithic Loki on local disk, with the compactor enforcing retention.

Keys from grafana/loki docs/sources/shared/configuration.md (3.x) and cmd/loki/loki-docker-config.yaml;
retention from docs/sources/operations/storage/retention.md.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings

PATH = "deploy/loki/loki.yml"
DATA_DIR = "/loki"  # the compose file mounts Loki's volume here
# The first day of the one schema period. Fixed, never "today": a later date would hide older data.
SCHEMA_FROM = "2024-01-01"


def config() -> dict:
    return {
        "target": "all",
        # One tenant ("fake"): nothing in front of Loki would set X-Scope-OrgID.
        "auth_enabled": False,
        "server": {
            "http_listen_address": "0.0.0.0",
            "http_listen_port": settings.PORTS["loki"],
            "log_level": "info",
        },
        "common": {
            "path_prefix": DATA_DIR,
            "storage": {
                "filesystem": {
                    "chunks_directory": f"{DATA_DIR}/chunks",
                    "rules_directory": f"{DATA_DIR}/rules",
                }
            },
            "replication_factor": 1,
            # A single process: the ring lives in memory and the instance advertises loopback.
            "instance_addr": "127.0.0.1",
            "ring": {"kvstore": {"store": "inmemory"}},
        },
        "schema_config": {
            "configs": [
                {
                    "from": SCHEMA_FROM,
                    # v13 + tsdb: the chunk format structured metadata (trace_id, span_id) needs.
                    "store": "tsdb",
                    "object_store": "filesystem",
                    "schema": "v13",
                    # Retention deletes whole days of index: it needs a 24h period.
                    "index": {"prefix": "index_", "period": "24h"},
                }
            ]
        },
        "compactor": {
            "working_directory": f"{DATA_DIR}/compactor",
            "compaction_interval": "10m",
            # Without this the compactor only compacts and logs are kept forever.
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            # Required once retention is on; delete requests live beside the chunks.
            "delete_request_store": "filesystem",
        },
        "limits_config": {
            "retention_period": settings.LOKI_RETENTION,
            # A service's busiest minute stays far below 8 MB/s; the burst absorbs a start-up flood.
            "ingestion_rate_mb": 8,
            "ingestion_burst_size_mb": 16,
            # Streams are service x level (about 40): a thousand stops a label leak long before it
            # bloats the index.
            "max_global_streams_per_user": 1000,
            # Enough for a metric query by service and route.
            "max_query_series": 1000,
            # trace_id and span_id travel as structured metadata (the default in 3.x, relied on here).
            "allow_structured_metadata": True,
            "reject_old_samples": True,
            "reject_old_samples_max_age": "168h",
        },
        "analytics": {"reporting_enabled": False},
    }


def generate(catalog: Catalog) -> dict[str, str]:
    return {PATH: _yaml.dump(config(), _yaml.header("loki.py"))}
