"""Static checks of the Loki, Alloy, Tempo, Jaeger, Mimir and Pyroscope configs (none of them can
run here).

Each YAML file is walked against a table of the documented keys this project relies on
(``backend_keys``): a key the table does not know, at any level it models, is reported, so a typo
such as `retention_enabeld` fails here instead of when the container starts. Then the values the stack depends on are checked.
config.alloy is read by ``alloy_syntax`` (no Alloy parser exists on PyPI), and its
component graph is checked: known components as `name "label"` blocks, every reference resolving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from airscope.stack import alloy, jaeger, loki, mimir, pyroscope, settings, tempo
from airscope.stack.checks._yaml_file import read_yaml
from airscope.stack.checks.alloy_syntax import (
    AlloyBlock,
    AlloySyntaxError,
    Attribute,
    Call,
    Reference,
    parse_alloy,
)
from airscope.stack.checks.backend_keys import (
    ALLOY_COMPONENTS,
    ANY,
    JAEGER_KEYS,
    LOKI_KEYS,
    MIMIR_KEYS,
    PYROSCOPE_KEYS,
    TEMPO_3_ONLY,
    TEMPO_KEYS,
    Components,
)


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


def _pyroscope(data: dict) -> list[str]:
    targets = str(_get(data, "target")).split(",")
    problems = (
        []
        if "all" in targets
        else [f"`target` is {_get(data, 'target')!r}: a monolithic Pyroscope needs `all`"]
    )
    problems += _expect(data, "multitenancy_enabled", False, "the kit's agent sends no X-Scope-OrgID")
    problems += _expect(
        data, "server.http_listen_port", settings.PORTS["pyroscope"], "the services push there, Grafana reads"
    )
    if _get(data, "server.http_listen_address") not in (_MISSING, "", "0.0.0.0"):
        problems.append("`server.http_listen_address` must be empty or 0.0.0.0 to be reachable in compose")
    # v2 (the image's v1-v2-dual default too) keeps profiles only in the object store.
    if _get(data, "architecture_storage") == "v1":
        problems.append("`architecture_storage` is 'v1': Pyroscope 2.x's ingesters are deprecated; use v2")
    problems += _expect(data, "storage.backend", "filesystem", "profiles live on the volume")
    for path in ("storage.filesystem.dir", "metastore.raft.dir", "metastore.data_dir"):
        where = _get(data, path)
        if not (isinstance(where, str) and where.startswith(pyroscope.DATA_DIR + "/")):
            problems.append(f"`{path}` is {where!r}: it must be under {pyroscope.DATA_DIR}, the volume")
    problems += _expect(
        data, "limits.retention_period", settings.PROFILE_RETENTION, "settings.PROFILE_RETENTION"
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
    _YamlFile(pyroscope.PATH, "Pyroscope 2.x", PYROSCOPE_KEYS, _pyroscope),
)


def _check_yaml(root: Path, spec: _YamlFile) -> list[str]:
    data, unread = read_yaml(root, spec.path)
    if unread:
        return unread
    problems = []
    for key in _unknown_keys(data, spec.keys):
        hint = " (a Tempo 3.0 key; this file is for 2.x)" if key in TEMPO_3_ONLY else ""
        problems.append(
            f"`{key}` is not a documented {spec.tool} key this project knows{hint}: a typo, or add it to the "
            f"table in checks/backend_keys.py with its source"
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
        # loki.source.docker, loki.write; faro.receiver's labels of the browser's lines.
        for name in ("labels", "external_labels", "extra_log_labels"):
            if isinstance(block.attributes().get(name), dict):
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
    """Problems in the generated Loki, Alloy, Tempo, Jaeger, Mimir and Pyroscope configs under root/deploy."""
    problems = []
    for spec in YAML_FILES:
        problems += _check_yaml(root, spec)
    return problems + _check_alloy(root)
