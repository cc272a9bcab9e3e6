"""mimir.yml: one monolithic Mimir on local disk, Prometheus' long-term store (it remote-writes here).

Keys from grafana/mimir docs/sources/mimir/get-started/_index.md (demo.yaml),
docs/sources/mimir/get-started/play-with-grafana-mimir/config/mimir.yaml and
pkg/util/validation/limits.go. `target: all` does not include Mimir's Alertmanager and none is
enabled: alerts go through Prometheus' Alertmanager.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings

PATH = "deploy/mimir/mimir.yml"
DATA_DIR = "/data"  # the compose file mounts Mimir's volume here


def _ring() -> dict:
    """A single process: every ring is gossiped over memberlist with itself, one replica of everything.

    A new dict each time, or the YAML would carry anchors and aliases.
    """
    return {"instance_addr": "127.0.0.1", "kvstore": {"store": "memberlist"}}


def config() -> dict:
    return {
        "target": "all",
        # One tenant ("anonymous"): Prometheus sends no X-Scope-OrgID.
        "multitenancy_enabled": False,
        "server": {"http_listen_port": settings.PORTS["mimir"], "log_level": "warn"},
        "blocks_storage": {
            "backend": "filesystem",
            "filesystem": {"dir": f"{DATA_DIR}/blocks"},
            "tsdb": {"dir": f"{DATA_DIR}/tsdb"},
            "bucket_store": {"sync_dir": f"{DATA_DIR}/tsdb-sync"},
        },
        "compactor": {
            "data_dir": f"{DATA_DIR}/compactor",
            "sharding_ring": {"kvstore": {"store": "memberlist"}},
        },
        "distributor": {"ring": _ring()},
        "ingester": {"ring": {**_ring(), "replication_factor": 1}},
        "store_gateway": {"sharding_ring": {"replication_factor": 1}},
        # `all` runs the ruler, which needs somewhere to keep (no) rules; Prometheus evaluates ours.
        "ruler": {"rule_path": f"{DATA_DIR}/ruler"},
        "ruler_storage": {"backend": "filesystem", "filesystem": {"dir": f"{DATA_DIR}/rules"}},
        "limits": {
            "compactor_blocks_retention_period": settings.MIMIR_RETENTION,
            # Prometheus forwards exemplars (trace ids); Mimir drops them unless this is above 0.
            "max_global_exemplars_per_user": 100000,
        },
        "usage_stats": {"enabled": False},
    }


def generate(catalog: Catalog) -> dict[str, str]:
    return {PATH: _yaml.dump(config(), _yaml.header("mimir.py"))}
