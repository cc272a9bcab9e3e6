"""The documented keys of the Loki, Tempo, Jaeger and Mimir configs this project relies on, and the
Alloy components it uses, each table citing its source.

A dict models a level (any other key there is a problem); None is a documented key whose contents
are not modelled; ANY stands for names the user picks (labels, storage backends, pipelines).
"""

from __future__ import annotations

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
        "ring traces_storage ingestion_time_range_slack",
        # modules/generator/processor/{servicegraphs,spanmetrics}/config.go at v2.10.8.
        processor=_leaves(
            "local_blocks host_info",
            service_graphs=_leaves(
                """wait max_items workers histogram_buckets dimensions enable_client_server_prefix
                enable_messaging_system_latency_histogram peer_attributes span_multiplier_key
                enable_virtual_node_label database_name_attributes"""
            ),
            span_metrics=_leaves(
                """histogram_buckets intrinsic_dimensions dimensions dimension_mappings enable_target_info
                span_multiplier_key filter_policies target_info_excluded_dimensions enable_instance_label"""
            ),
        ),
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

# grafana/pyroscope v2.2.1: cmd/pyroscope/pyroscope.yaml (the reference config, every key with its
# default), pkg/pyroscope/pyroscope.go (top level), pkg/validation/limits.go and
# pkg/metastore/index/cleaner/retention/retention.go (`limits.retention_period`, the v2 retention).
PYROSCOPE_KEYS = _leaves(
    """target multitenancy_enabled architecture_storage show_banner shutdown_delay api distributor
    segment_writer memberlist pyroscopedb tracing overrides_exporter runtime_config admin_server
    embedded_grafana query_backend compaction_worker frontend frontend_worker tenant_settings""",
    server=_leaves(
        """http_listen_network http_listen_address http_listen_port http_listen_conn_limit
        grpc_listen_network grpc_listen_address grpc_listen_port register_instrumentation
        graceful_shutdown_timeout http_server_read_timeout http_server_write_timeout
        http_server_idle_timeout grpc_server_max_recv_msg_size grpc_server_max_send_msg_size
        log_format log_level http_path_prefix"""
    ),
    storage=_leaves("backend s3 gcs azure swift cos prefix", filesystem=_leaves("dir")),
    metastore=_leaves(
        "levels cleanupbatchsize cleanupdelay cleanupjobminlevel cleanupjobmaxlevel",
        raft=_leaves("dir"),
        data_dir=None,
    ),
    limits=_leaves(
        """ingestion_rate_mb ingestion_burst_size_mb max_label_name_length max_label_value_length
        max_label_names_per_series max_sessions_per_series enforce_labels_order max_profile_size_bytes
        max_profile_stacktrace_samples max_profile_stacktrace_sample_labels max_profile_stacktrace_depth
        max_profile_symbol_value_length max_query_lookback max_query_length max_query_parallelism
        max_flamegraph_nodes_default compactor_blocks_retention_period retention_period
        reject_older_than reject_newer_than write_path"""
    ),
    self_profiling=_leaves(
        "disable_push mutex_profile_fraction block_profile_rate use_k6_middleware tenant_id"
    ),
    analytics=_leaves("reporting_enabled"),
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
    "faro.receiver": (),
    "otelcol.processor.batch": ("input",),
    "otelcol.exporter.otlp": ("input",),
}
