"""Static checks of the Loki, Alloy, Tempo, Jaeger and Mimir configs (none of them can run here).

Each YAML file is walked against a table of the documented keys this project relies on: a key the
table does not know, at any level it models, is reported, so a typo such as `retention_enabeld`
fails here instead of when the container starts. Then the values the stack depends on are checked.
config.alloy is read by ``alloy_syntax`` (no Alloy parser exists on PyPI), and its
component graph is checked: known components as `name "label"` blocks, every reference resolving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from airscope.stack import alloy, jaeger, loki, mimir, settings, tempo
from airscope.stack.checks.alloy_syntax import (
    AlloyBlock,
    AlloySyntaxError,
    Attribute,
    Call,
    Reference,
    parse_alloy,
)

# --- tables of documented keys ----------------------------------------------------------------------
# A dict models a level (any other key there is a problem); None is a documented key whose contents
# are not modelled; ANY stands for names the user picks (labels, storage backends, pipelines).
ANY = "*"


class Components(dict):
    """An OpenTelemetry Collector section: `type/name` keys are looked up by their type."""


def _leaves(names: str, **blocks) -> dict:
    """Documented keys whose contents are not modelled, plus modelled blocks."""
    return {**dict.fromkeys(names.split()), **blocks}


# grafana/loki docs/sources/shared/configuration.md (3.x): the top level, `server`, `common`,
# `period_config`, `compactor`, `limits_config`; `analytics` from cmd/loki/loki-docker-config.yaml.
LOKI_KEYS = _leaves(
    """target auth_enabled ballast_bytes ui distributor querier query_engine query_scheduler frontend
    query_range ruler ruler_storage ingester_client ingester pattern_ingester index_gateway bloom_build
    bloom_gateway storage_config chunk_store_config compactor_grpc_client frontend_worker memberlist
    kafka_config runtime_config tracing""",
    server=_leaves(
        """http_listen_network http_listen_address http_listen_port http_listen_conn_limit
        grpc_listen_address grpc_listen_port register_instrumentation graceful_shutdown_timeout
        log_level log_format"""
    ),
    common=_leaves(
        """path_prefix persist_tokens replication_factor instance_interface_names instance_addr
        compactor_address compactor_grpc_address scratch_path""",
        storage=_leaves(
            "s3 gcs azure alibabacloud bos swift cos hedging congestion_control object_store",
            filesystem=_leaves("chunks_directory rules_directory"),
        ),
        ring=_leaves(
            """heartbeat_period heartbeat_timeout tokens_file_path zone_awareness_enabled num_tokens
            replication_factor instance_id instance_interface_names instance_port instance_addr""",
            kvstore=_leaves("store prefix consul etcd multi"),
        ),
    ),
    schema_config={
        "configs": _leaves(
            "from store object_store schema row_shards",
            index=_leaves("prefix period tags"),
            chunks=_leaves("prefix period tags"),
        )
    },
    compactor=_leaves(
        """working_directory compaction_interval apply_retention_interval retention_enabled
        retention_delete_delay retention_delete_worker_count retention_table_timeout
        retention_backoff_config delete_request_store delete_request_store_key_prefix
        delete_request_store_db_type backup_delete_request_store_db_type delete_batch_size
        delete_request_cancel_period delete_max_interval max_compaction_parallelism upload_parallelism
        compactor_ring tables_to_compact skip_latest_n_tables"""
    ),
    limits_config=_leaves(
        """ingestion_rate_strategy ingestion_rate_mb ingestion_burst_size_mb max_label_name_length
        max_label_value_length max_label_names_per_series reject_old_samples reject_old_samples_max_age
        creation_grace_period max_line_size max_line_size_truncate discover_service_name
        discover_log_levels log_level_fields use_owned_stream_count max_streams_per_user
        max_global_streams_per_user per_stream_rate_limit per_stream_rate_limit_burst
        max_chunks_per_query max_query_series max_query_lookback max_query_length max_query_range
        max_query_parallelism tsdb_max_query_parallelism cardinality_limit
        max_streams_matchers_per_query max_concurrent_tail_requests max_entries_limit_per_query
        max_cache_freshness_per_query query_timeout split_queries_by_interval volume_enabled
        volume_max_series deletion_mode retention_period retention_stream shard_streams
        allow_structured_metadata max_structured_metadata_size max_structured_metadata_entries_count
        otlp_config"""
    ),
    analytics=_leaves("reporting_enabled"),
)

# grafana/tempo docs/sources/tempo/configuration/_index.md (2.x: server, distributor, ingester,
# metrics_generator, compactor, storage, overrides, usage_report) and example/docker-compose/;
# remote_write items are Prometheus' (prometheus docs/configuration/configuration.md).
_OTLP_PROTOCOL = _leaves("endpoint tls include_metadata cors")
TEMPO_KEYS = _leaves(
    """target multitenancy_enabled stream_over_http_enabled http_api_prefix autocomplete_filtering_enabled
    ingester query_frontend querier memberlist cache""",
    server=_leaves(
        """http_listen_address http_listen_port grpc_listen_address grpc_listen_port
        register_instrumentation graceful_shutdown_timeout http_server_read_timeout
        http_server_write_timeout http_server_idle_timeout grpc_server_max_recv_msg_size
        grpc_server_max_send_msg_size log_level log_format"""
    ),
    distributor=_leaves(
        "forwarders log_received_traces log_received_spans extend_writes usage",
        receivers=_leaves(
            "jaeger zipkin opencensus kafka",
            otlp={"protocols": {"grpc": _OTLP_PROTOCOL, "http": _OTLP_PROTOCOL}},
        ),
    ),
    metrics_generator=_leaves(
        "ring processor traces_storage ingestion_time_range_slack",
        registry=_leaves(
            "collection_interval stale_duration external_labels max_label_name_length max_label_value_length"
        ),
        storage=_leaves(
            "path wal remote_write_flush_deadline",
            remote_write=_leaves(
                """url name remote_timeout headers send_exemplars send_native_histograms
                write_relabel_configs basic_auth authorization tls_config queue_config metadata_config"""
            ),
        ),
    ),
    compactor=_leaves(
        "ring",
        compaction=_leaves(
            """block_retention compacted_block_retention compaction_window max_compaction_objects
            max_block_bytes retention_concurrency max_time_per_tenant compaction_cycle
            v2_in_buffer_bytes v2_out_buffer_bytes v2_prefetch_traces_count"""
        ),
    ),
    storage={
        "trace": _leaves(
            """backend wal block gcs s3 azure search pool cache blocklist_poll blocklist_poll_concurrency
            blocklist_poll_fallback blocklist_poll_tenant_index_builders""",
            local=_leaves("path"),
        )
    },
    # Only `defaults.metrics_generator.processors` is relied on, and checked by value below; the
    # legacy flat keys (metrics_generator_processors, ...) are reported, as 3.0 refuses them.
    overrides=_leaves("defaults per_tenant_override_config"),
    usage_report=_leaves("reporting_enabled"),
)
# Tempo 3.0 keys (release-notes/v3-0.md): they mean someone mixed versions in a 2.x file.
TEMPO_3_ONLY = ("backend_scheduler", "backend_worker")

# jaegertracing/jaeger cmd/jaeger/internal/all-in-one.yaml, cmd/jaeger/config.yaml and
# extension/jaegerquery/config.go; server blocks are the Collector's confighttp/configgrpc.
_SERVER = _leaves("endpoint transport tls cors auth include_metadata")
JAEGER_KEYS = _leaves(
    "connectors",
    service=_leaves("extensions telemetry", pipelines={ANY: _leaves("receivers processors exporters")}),
    extensions=Components(
        _leaves(
            "remote_sampling expvar pprof jaeger_mcp",
            jaeger_storage=_leaves(
                "metric_backends", backends={ANY: {"memory": _leaves("max_traces"), ANY: None}}
            ),
            jaeger_query=_leaves(
                "base_path bearer_token_propagation multi_tenancy max_clock_skew_adjust enable_tracing",
                storage=_leaves("traces traces_archive metrics"),
                ui=_leaves("config_file assets_path log_access"),
                http=_SERVER,
                grpc=_SERVER,
            ),
            healthcheckv2=_leaves("use_v2 grpc", http=_SERVER),
        )
    ),
    receivers=Components(_leaves("jaeger zipkin", otlp={"protocols": {"grpc": _SERVER, "http": _SERVER}})),
    processors=Components(_leaves("batch adaptive_sampling")),
    exporters=Components(jaeger_storage_exporter=_leaves("trace_storage queue")),
)

# grafana/mimir docs/sources/mimir/get-started/_index.md (demo.yaml),
# play-with-grafana-mimir/config/mimir.yaml and pkg/util/validation/limits.go.
_MIMIR_RING = _leaves("instance_addr replication_factor", kvstore=_leaves("store"))
MIMIR_KEYS = _leaves(
    """target multitenancy_enabled common alertmanager alertmanager_storage memberlist querier
    query_scheduler frontend runtime_config""",
    usage_stats=_leaves("enabled"),
    server=_leaves(
        """http_listen_address http_listen_port grpc_listen_address grpc_listen_port
        register_instrumentation log_level log_format"""
    ),
    blocks_storage=_leaves(
        "backend storage_prefix tsdb bucket_store s3 gcs azure swift", filesystem=_leaves("dir")
    ),
    compactor=_leaves("data_dir", sharding_ring=_MIMIR_RING),
    distributor={"ring": _MIMIR_RING},
    ingester={"ring": _MIMIR_RING},
    store_gateway={"sharding_ring": _MIMIR_RING},
    ruler=_leaves("rule_path alertmanager_url ring"),
    ruler_storage=_leaves("backend s3 gcs azure", filesystem=_leaves("dir")),
    limits=_leaves(
        """request_rate request_burst_size ingestion_rate ingestion_burst_size max_label_name_length
        max_label_value_length max_label_names_per_series max_global_series_per_user
        max_global_series_per_metric max_global_exemplars_per_user out_of_order_time_window
        max_fetched_chunks_per_query max_fetched_series_per_query max_query_lookback
        max_total_query_length compactor_blocks_retention_period"""
    ),
)

# grafana/alloy docs/sources/reference/components/<namespace>/<name>.md ("Exported fields"): the
# general-availability components this project uses, with what each exports.
ALLOY_COMPONENTS = {
    "discovery.docker": ("targets",),
    "discovery.relabel": ("output", "rules"),
    "loki.source.docker": (),
    "loki.process": ("receiver",),
    "loki.write": ("receiver",),
    "otelcol.receiver.otlp": (),
    "otelcol.processor.batch": ("input",),
    "otelcol.exporter.otlp": ("input",),
}


# --- YAML files ------------------------------------------------------------------------------------
class _Missing:
    """What `_get` returns for an absent key: falsy, and shown as "unset"."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "unset"


_MISSING = _Missing()


def _unknown_keys(node, schema, path: str = "") -> Iterator[str]:
    """Paths of keys the schema does not know."""
    if schema is None or node is None:
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _unknown_keys(item, schema, f"{path}[{i}]")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        where = f"{path}.{key}" if path else str(key)
        lookup = str(key).split("/", 1)[0] if isinstance(schema, Components) else key
        if lookup in schema:
            yield from _unknown_keys(value, schema[lookup], where)
        elif ANY in schema:
            yield from _unknown_keys(value, schema[ANY], where)
        else:
            yield where


def _get(data, path: str):
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _expect(data, path: str, expected, why: str) -> list[str]:
    actual = _get(data, path)
    if actual is _MISSING:
        return [f"`{path}` is not set; it must be {expected!r}: {why}"]
    if actual != expected:
        return [f"`{path}` is {actual!r}, expected {expected!r}: {why}"]
    return []


def _all_interfaces(data, path: str, port: int, why: str) -> list[str]:
    """An endpoint must listen on 0.0.0.0 at the given port: localhost is unreachable in a container."""
    return _expect(data, path, f"0.0.0.0:{port}", why)


def _loki(data: dict) -> list[str]:
    problems = _expect(data, "target", "all", "one monolithic process")
    problems += _expect(data, "auth_enabled", False, "nothing in front of Loki sets X-Scope-OrgID")
    problems += _expect(data, "server.http_listen_port", settings.PORTS["loki"], "Alloy and Grafana use it")
    if _get(data, "server.http_listen_address") not in (_MISSING, "", "0.0.0.0"):
        problems.append("`server.http_listen_address` must be 0.0.0.0 (or unset) to be reachable in compose")
    periods = _get(data, "schema_config.configs")
    if not isinstance(periods, list) or not periods:
        problems.append("`schema_config.configs` has no period")
    else:
        newest = periods[-1]
        why = "structured metadata (trace_id, span_id) needs schema v13 on tsdb"
        problems += _expect(newest, "schema", "v13", why)
        problems += _expect(newest, "store", "tsdb", why)
        problems += _expect(newest, "index.period", "24h", "the compactor's retention needs a 24h index")
    problems += _expect(data, "compactor.retention_enabled", True, "otherwise logs are never deleted")
    if not _get(data, "compactor.delete_request_store"):
        problems.append("`compactor.delete_request_store` must be set when retention is enabled")
    problems += _expect(
        data, "limits_config.retention_period", settings.LOKI_RETENTION, "settings.LOKI_RETENTION"
    )
    problems += _expect(
        data,
        "limits_config.allow_structured_metadata",
        True,
        "trace_id and span_id travel as structured metadata",
    )
    return problems


def _tempo(data: dict) -> list[str]:
    why = "Tempo 2.x receivers listen on localhost unless told otherwise"
    problems = [
        *_all_interfaces(
            data, "distributor.receivers.otlp.protocols.grpc.endpoint", settings.PORTS["otlp-grpc"], why
        ),
        *_all_interfaces(
            data, "distributor.receivers.otlp.protocols.http.endpoint", settings.PORTS["otlp-http"], why
        ),
    ]
    problems += _expect(data, "server.http_listen_port", settings.PORTS["tempo"], "Grafana queries it")
    problems += _expect(data, "stream_over_http_enabled", True, "Grafana streams search results")
    problems += _expect(
        data, "compactor.compaction.block_retention", settings.TRACE_RETENTION, "TRACE_RETENTION"
    )
    problems += _expect(data, "storage.trace.backend", "local", "a monolithic Tempo on the volume")
    for path in ("storage.trace.wal.path", "storage.trace.local.path", "metrics_generator.storage.path"):
        if not _get(data, path):
            problems.append(f"`{path}` is not set")
    processors = _get(data, "overrides.defaults.metrics_generator.processors")
    enabled = processors if isinstance(processors, list) else []
    for processor in tempo.PROCESSORS:
        if processor not in enabled:
            problems.append(
                f"`overrides.defaults.metrics_generator.processors` lacks {processor!r}: "
                "the service graph and span metrics come from it"
            )
    writes = _get(data, "metrics_generator.storage.remote_write")
    if not isinstance(writes, list) or not any(isinstance(w, dict) and w.get("url") for w in writes):
        problems.append("`metrics_generator.storage.remote_write` has no url: span metrics would go nowhere")
    problems += _expect(
        data, "metrics_generator.registry.external_labels.source", "tempo", "dashboards filter on it"
    )
    return problems


def _jaeger(data: dict) -> list[str]:
    problems: list[str] = []
    pipelines = _get(data, "service.pipelines")
    for name, pipeline in (pipelines if isinstance(pipelines, dict) else {}).items():
        for kind in ("receivers", "processors", "exporters"):
            defined = _get(data, kind)
            for component in (pipeline or {}).get(kind) or []:
                if not isinstance(defined, dict) or component not in defined:
                    problems.append(
                        f"`service.pipelines.{name}.{kind}` names {component!r}, which `{kind}` does not define"
                    )
        for kind in ("receivers", "exporters"):
            if not (pipeline or {}).get(kind):
                problems.append(f"`service.pipelines.{name}.{kind}` is empty")
    if not isinstance(pipelines, dict) or not pipelines:
        problems.append("`service.pipelines` defines no pipeline")
    extensions = _get(data, "extensions")
    for extension in _get(data, "service.extensions") or []:
        if not isinstance(extensions, dict) or extension not in extensions:
            problems.append(f"`service.extensions` names {extension!r}, which `extensions` does not define")
    backends = _get(data, "extensions.jaeger_storage.backends")
    for path in ("extensions.jaeger_query.storage.traces", "exporters.jaeger_storage_exporter.trace_storage"):
        store = _get(data, path)
        if not isinstance(backends, dict) or store not in backends:
            problems.append(
                f"`{path}` is {store!r}, which `extensions.jaeger_storage.backends` does not define"
            )
    why = "Collector components listen on localhost unless told otherwise"
    problems += _all_interfaces(
        data, "receivers.otlp.protocols.grpc.endpoint", settings.PORTS["otlp-grpc"], why
    )
    problems += _all_interfaces(
        data, "receivers.otlp.protocols.http.endpoint", settings.PORTS["otlp-http"], why
    )
    problems += _all_interfaces(data, "extensions.jaeger_query.http.endpoint", settings.PORTS["jaeger"], why)
    problems += _all_interfaces(data, "extensions.healthcheckv2.http.endpoint", jaeger.HEALTH_PORT, why)
    return problems


def _mimir(data: dict) -> list[str]:
    problems = _expect(data, "multitenancy_enabled", False, "Prometheus sends no tenant header")
    targets = str(_get(data, "target")).split(",")
    if "all" not in targets:
        problems.append(f"`target` is {_get(data, 'target')!r}: a monolithic Mimir needs `all`")
    if "alertmanager" in targets:
        problems.append("`target` enables Mimir's Alertmanager: alerts go through Prometheus' Alertmanager")
    problems += _expect(
        data, "server.http_listen_port", settings.PORTS["mimir"], "Prometheus remote-writes there"
    )
    problems += _expect(data, "blocks_storage.backend", "filesystem", "blocks live on the volume")
    single = "one process: a higher replication factor fails every write"
    problems += _expect(data, "ingester.ring.replication_factor", 1, single)
    problems += _expect(data, "store_gateway.sharding_ring.replication_factor", 1, single)
    problems += _expect(
        data, "limits.compactor_blocks_retention_period", settings.MIMIR_RETENTION, "settings.MIMIR_RETENTION"
    )
    return problems


@dataclass(frozen=True)
class _YamlFile:
    path: str
    tool: str
    keys: dict
    values: Callable[[dict], list[str]]


YAML_FILES = (
    _YamlFile(loki.PATH, "Loki", LOKI_KEYS, _loki),
    _YamlFile(tempo.PATH, "Tempo 2.x", TEMPO_KEYS, _tempo),
    _YamlFile(jaeger.PATH, "Jaeger v2", JAEGER_KEYS, _jaeger),
    _YamlFile(mimir.PATH, "Mimir", MIMIR_KEYS, _mimir),
)


def _check_yaml(root: Path, spec: _YamlFile) -> list[str]:
    file = root / spec.path
    if not file.exists():
        return [f"{spec.path} is missing: run `airscope gen`"]
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        return [f"{spec.path} is not valid YAML: {error}"]
    if not isinstance(data, dict):
        return [f"{spec.path} is not a YAML mapping"]
    problems = []
    for key in _unknown_keys(data, spec.keys):
        hint = " (a Tempo 3.0 key; this file is for 2.x)" if key in TEMPO_3_ONLY else ""
        problems.append(
            f"`{key}` is not a documented {spec.tool} key this project knows{hint}: a typo, or add it to the "
            f"table in checks/backends.py with its source"
        )
    problems += spec.values(data)
    return [f"{spec.path}: {problem}" for problem in problems]


# --- config.alloy ----------------------------------------------------------------------------------


def _references(value) -> Iterator[Reference]:
    if isinstance(value, Reference):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, Call):
        yield from _references(value.args)


def _block_references(block: AlloyBlock, where: str) -> Iterator[tuple[str, Reference]]:
    for item in block.body:
        if isinstance(item, Attribute):
            yield from ((f"{where}.{item.name}", ref) for ref in _references(item.value))
        else:
            yield from _block_references(item, f"{where}.{item.name}")


def _resolve(path: str, defined: set[tuple[str, str]]) -> str | None:
    """What is wrong with a reference `<component>.<label>.<export>`, or None."""
    parts = path.split(".")
    for size in range(len(parts) - 2, 0, -1):
        name = ".".join(parts[:size])
        if name in ALLOY_COMPONENTS:
            label, export = parts[size], parts[size + 1]
            if (name, label) not in defined:
                return f"refers to `{name}.{label}`, which the file does not define"
            if export not in ALLOY_COMPONENTS[name]:
                exports = ", ".join(ALLOY_COMPONENTS[name]) or "nothing"
                return f"refers to `{export}` of `{name}.{label}`, which exports {exports}"
            return None
    return f"refers to `{path}`, which names no known component"


def _stream_labels(components: list[AlloyBlock]) -> set[str]:
    labels: set[str] = set()
    for block in components:
        if block.name == "discovery.relabel":
            for rule in block.blocks("rule"):
                target = rule.attributes().get("target_label")
                if isinstance(target, str) and not target.startswith("__"):
                    labels.add(target)
        for name in ("labels", "external_labels"):  # loki.source.docker, loki.write
            if block.name.startswith("loki.") and isinstance(block.attributes().get(name), dict):
                labels.update(block.attributes()[name])
        for stage in block.blocks("stage.labels") + block.blocks("stage.static_labels"):
            labels.update(stage.attributes().get("values") or {})
    return labels


def _structured_metadata(components: list[AlloyBlock]) -> set[str]:
    fields: set[str] = set()
    for block in components:
        for stage in block.blocks("stage.structured_metadata"):
            fields.update(stage.attributes().get("values") or {})
    return fields


def _alloy(text: str) -> list[str]:
    try:
        items = parse_alloy(text)
    except AlloySyntaxError as error:
        return [str(error)]
    problems = []
    components = []
    defined: set[tuple[str, str]] = set()
    for item in items:
        if isinstance(item, Attribute):
            problems.append(
                f"line {item.line}: top-level attribute `{item.name}`: only component blocks belong there"
            )
        elif item.name not in ALLOY_COMPONENTS:
            problems.append(f"line {item.line}: `{item.name}` is not a component this project knows")
        elif item.label is None:
            problems.append(f'line {item.line}: `{item.name}` needs a label: `{item.name} "name" {{ ... }}`')
        elif (item.name, item.label) in defined:
            problems.append(f"line {item.line}: `{item.name}.{item.label}` is defined twice")
        else:
            defined.add((item.name, item.label))
            components.append(item)
    for block in components:
        for where, ref in _block_references(block, f"{block.name}.{block.label}"):
            wrong = _resolve(ref.path, defined)
            if wrong:
                problems.append(f"line {ref.line}: `{where}` {wrong}")
    labels = _stream_labels(components)
    extra = labels - set(settings.LOG_LABELS)
    missing = set(settings.LOG_LABELS) - labels
    if extra:
        problems.append(
            f"stream labels {sorted(extra)} are not in settings.LOG_LABELS: every label value multiplies "
            "Loki's streams; put the field in structured metadata or leave it in the line"
        )
    if missing:
        problems.append(f"stream labels {sorted(missing)} of settings.LOG_LABELS are never set")
    absent = set(settings.LOG_STRUCTURED_METADATA) - _structured_metadata(components)
    if absent:
        problems.append(f"{sorted(absent)} never reach structured metadata (stage.structured_metadata)")
    return problems


def _check_alloy(root: Path) -> list[str]:
    file = root / alloy.PATH
    if not file.exists():
        return [f"{alloy.PATH} is missing: run `airscope gen`"]
    return [f"{alloy.PATH}: {problem}" for problem in _alloy(file.read_text())]


def check(root: Path) -> list[str]:
    """Problems in the generated Loki, Alloy, Tempo, Jaeger and Mimir configs under root/deploy."""
    problems = []
    for spec in YAML_FILES:
        problems += _check_yaml(root, spec)
    return problems + _check_alloy(root)
