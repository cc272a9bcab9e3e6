"""pyroscope.yml: one monolithic Pyroscope on local disk, keeping the services' CPU profiles.

Keys from grafana/pyroscope at v2.2.1: cmd/pyroscope/pyroscope.yaml (every key with its default),
pkg/pyroscope/pyroscope.go (``architecture_storage``, ``target``), pkg/validation/limits.go and
pkg/metastore/index/cleaner/retention/retention.go (the two retention keys). The image's entrypoint
is /usr/bin/pyroscope; its own config is all defaults, replaced here by ``-config.file``.

2.x stores profiles in its "v2" layout (metastore + segments on the filesystem bucket); the image's
default, "v1-v2-dual", also runs the old read path for data a 1.x wrote, which a new deployment has
none of, so this one is v2 only and its retention is the metastore's ``limits.retention_period``.
"""

from __future__ import annotations

from airscope.catalog import Catalog
from airscope.stack import _yaml, settings

PATH = "deploy/pyroscope/pyroscope.yml"
DATA_DIR = "/data"  # the image's VOLUME, owned by its pyroscope user (10001); compose mounts it
# The profile type the kit's agent sends (pyroscope-io's on-CPU samples as pprof): what Tempo's
# tracesToProfiles link opens and a CPU flame graph queries.
CPU_PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def config() -> dict:
    return {
        # Every component in one process (single-binary mode): distributor, segment writer,
        # metastore, compaction, query path.
        "target": "all",
        "architecture_storage": "v2",
        # One tenant: nothing in front of Pyroscope sets X-Scope-OrgID (the agent sends none).
        "multitenancy_enabled": False,
        "server": {
            # An empty address is every interface: the services push from other containers.
            "http_listen_address": "",
            "http_listen_port": settings.PORTS["pyroscope"],
            "log_level": "info",
        },
        "storage": {"backend": "filesystem", "filesystem": {"dir": f"{DATA_DIR}/v2/shared"}},
        "metastore": {
            # Raft's WAL must be on a persistent volume, not tmpfs (the key's own documentation).
            "raft": {"dir": f"{DATA_DIR}/v2/metastore/raft"},
            "data_dir": f"{DATA_DIR}/v2/metastore/data",
        },
        "limits": {
            # The metastore drops whole partitions older than this (2.2 enables the cleanup by default).
            "retention_period": settings.PROFILE_RETENTION,
            # A service pushes about 10 KB every 10 s; the burst covers a fleet's pushes landing at once.
            "ingestion_rate_mb": 4,
            "ingestion_burst_size_mb": 8,
            # Labels are service_name, version, environment, instance and the span's name: few.
            "max_label_names_per_series": 30,
        },
        # Its own profiles would sit beside the services' in the one tenant; Prometheus scrapes its
        # metrics (the pyroscope job) and that is enough to watch it.
        "self_profiling": {"disable_push": True},
        "analytics": {"reporting_enabled": False},
    }


def generate(catalog: Catalog) -> dict[str, str]:
    return {PATH: _yaml.dump(config(), _yaml.header("pyroscope.py"))}
